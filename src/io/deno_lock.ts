// DENO-ONLY: owner lock files, so one process at a time writes a run directory (training)
// or a shard directory (`data prepare`).
//
// A lock is a small JSON file naming its holder: pid, hostname, when it started, the
// process's start tick from /proc (so a recycled pid is not mistaken for the holder) and
// the command. It is held for the holder's life: released at the end, and also on
// Deno.exit (the unload event). A holder killed with SIGKILL leaves the file behind; it is
// then stale (its pid no longer runs on this host) and the next writer takes it over.
//
// Every creation is atomic and exclusive: the content is written to a temporary file that
// is then hard-linked to the lock's name (link fails when the name exists), so no reader
// ever sees a half-written lock and two creators cannot both win. Taking over a stale lock
// is guarded by a second such file (`<lock>.takeover`): only its holder may delete the
// stale lock, and only after re-reading it and finding the same dead holder.
import { UserError } from "../util/errors.ts";

export interface LockHolder {
  pid: number;
  hostname: string;
  started_at: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks), when the OS has /proc. */
  proc_start?: string;
  command: string;
}

/** Another live process holds the lock; the message names it and what to do. */
export class LockHeldError extends UserError {
  override name = "LockHeldError";
  constructor(message: string, readonly holder: LockHolder, readonly path: string) {
    super(message);
  }
}

export interface HeldLock {
  path: string;
  holder: LockHolder;
  release(): void;
}

export interface AcquireOptions {
  /** What is being locked, in words, for messages ("run directory runs/x"). */
  what: string;
  /** What the holder should do about a refusal (appended to the message). */
  hint?: string;
  /** Keep trying this many milliseconds while a live process holds it (0: refuse at once). */
  waitMs?: number;
  /** Called once when a wait starts. */
  onWait?: (holder: LockHolder) => void;
  /** Told when a stale lock (a dead holder) is taken over. */
  onTakeover?: (stale: LockHolder) => void;
}

function procStart(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function selfHolder(): LockHolder {
  const start = procStart(Deno.pid);
  return {
    pid: Deno.pid,
    hostname: Deno.hostname(),
    started_at: new Date().toISOString(),
    ...(start ? { proc_start: start } : {}),
    command: ["deno", ...Deno.args].join(" ").slice(0, 300),
  };
}

/**
 * Whether the holder's process still runs: "unknown" for another host (we cannot tell).
 * On this host: /proc/<pid> with the recorded start tick, else `kill -0`.
 */
export function holderAlive(h: LockHolder): boolean | "unknown" {
  if (h.hostname !== Deno.hostname()) return "unknown";
  if (h.pid === Deno.pid) return true;
  let hasProc = false;
  try {
    hasProc = Deno.statSync("/proc/self").isDirectory;
  } catch { /* no /proc */ }
  if (hasProc) {
    const start = procStart(h.pid);
    if (start === undefined) return false;
    return h.proc_start === undefined || h.proc_start === start; // another start tick: the pid was reused
  }
  try {
    return new Deno.Command("kill", { args: ["-0", String(h.pid)], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return "unknown";
  }
}

/** The raw text and parsed holder of a lock file; null when there is none. */
function readRaw(path: string): { text: string; holder: LockHolder | null } | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  try {
    const h = JSON.parse(text);
    return { text, holder: typeof h?.pid === "number" && typeof h?.hostname === "string" ? h as LockHolder : null };
  } catch {
    return { text, holder: null };
  }
}

/** The holder of a lock file and whether it is alive; null when nothing holds it. */
export function readLock(path: string): { holder: LockHolder | null; alive: boolean | "unknown" } | null {
  const r = readRaw(path);
  if (!r) return null;
  return { holder: r.holder, alive: r.holder ? holderAlive(r.holder) : false };
}

let tmpCounter = 0;

/** Creates `path` holding `text`, atomically and only if it does not exist; false when it does. */
function createExclusive(path: string, text: string): boolean {
  const tmp = `${path}.new-${Deno.pid}-${tmpCounter++}`;
  Deno.writeTextFileSync(tmp, text);
  try {
    Deno.linkSync(tmp, path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  } finally {
    Deno.removeSync(tmp);
  }
}

function removeIfSame(path: string, text: string): void {
  if (readRaw(path)?.text !== text) return;
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Takes a stale lock (text `staleText`) over: under the takeover guard, delete it if it
 * still is that stale lock. Returns after one attempt; the caller then tries to create.
 */
async function breakStale(path: string, staleText: string, mine: string): Promise<void> {
  const guard = `${path}.takeover`;
  if (!createExclusive(guard, mine)) {
    const g = readRaw(guard);
    // A guard left by a process that died inside this short section: remove it, retry.
    if (g && (!g.holder || holderAlive(g.holder) === false)) removeIfSame(guard, g.text);
    else await new Promise((r) => setTimeout(r, 20));
    return;
  }
  try {
    removeIfSame(path, staleText);
  } finally {
    removeIfSame(guard, mine);
  }
}

const held = new Set<string>();
globalThis.addEventListener("unload", () => {
  // Deno.exit (e.g. a second Ctrl-C) skips finally blocks; the locks still go.
  for (const p of held) {
    try {
      Deno.removeSync(p);
    } catch { /* already gone */ }
  }
});

function describe(h: LockHolder): string {
  return `pid ${h.pid} on ${h.hostname} (since ${h.started_at}: ${h.command})`;
}

/** Takes the lock at `path` for this process, or throws LockHeldError naming the live holder. */
export async function acquireLock(path: string, opts: AcquireOptions): Promise<HeldLock> {
  const me = selfHolder();
  const mine = JSON.stringify(me) + "\n";
  const deadline = Date.now() + (opts.waitMs ?? 0);
  let waiting = false;
  for (;;) {
    if (createExclusive(path, mine)) break;
    const cur = readRaw(path);
    if (!cur) continue; // released just now: try again
    if (!cur.holder) {
      // Not ours to judge: a lock file that does not parse is never written by acquireLock
      // (creation is atomic), so someone put it there; say so rather than delete it.
      throw new UserError(`${path} is in the way of locking ${opts.what} but is not a lock file this lab wrote; look at it and delete it`);
    }
    const alive = holderAlive(cur.holder);
    if (alive === false) {
      opts.onTakeover?.(cur.holder);
      await breakStale(path, cur.text, mine);
      continue;
    }
    if (Date.now() < deadline) {
      if (!waiting) opts.onWait?.(cur.holder);
      waiting = true;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const other = alive === "unknown" ? ` If that host no longer runs it, delete ${path}.` : "";
    throw new LockHeldError(
      `${opts.what} is in use by ${describe(cur.holder)}: ${opts.hint ?? "wait for it to finish or stop it"}.${other}`,
      cur.holder,
      path,
    );
  }
  held.add(path);
  let released = false;
  return {
    path,
    holder: me,
    release() {
      if (released) return;
      released = true;
      held.delete(path);
      removeIfSame(path, mine); // never someone else's
    },
  };
}
