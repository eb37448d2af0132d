// Running mutants. Every mutant is applied in a private copy of the repository (the
// tracked and untracked-but-not-ignored files, with node_modules linked), so the working
// tree is never written: an interrupted run leaves nothing to restore. In the copy each
// mutant's file is written, the test files covering it run (`deno test --fail-fast
// --no-check`, fastest first, in a process group killed at the timeout), and the file is
// written back before the next mutant.
import { applyMutant, type Mutant } from "./mutants.ts";

export type Status = "killed" | "survived" | "timeout" | "no-tests" | "equivalent";

export interface Outcome {
  mutant: Mutant;
  status: Status;
  tests: string[];
  ms: number;
  /** The first failing test, when one failed. */
  failed?: string;
  /** Why the entry in equivalent.txt says it cannot matter. */
  why?: string;
  /** Test files not run because the mutant's time budget ran out (survivors only). */
  unrun?: number;
}

export interface TestRun {
  ok: boolean;
  timedOut: boolean;
  ms: number;
  output: string;
}

export class Sandbox {
  private constructor(readonly root: string, readonly dir: string) {}

  /** Copies `root`'s files into a fresh temporary directory. */
  static async create(root: string): Promise<Sandbox> {
    const list = await new Deno.Command("git", { args: ["ls-files", "-co", "--exclude-standard", "-z"], cwd: root, stdout: "piped" }).output();
    if (!list.success) throw new Error(`${root} is not a git checkout (git ls-files failed); mutation testing copies the tracked files`);
    await removeStaleSandboxes();
    const dir = await Deno.makeTempDir({ prefix: "nanochat-mutate-" });
    await Deno.writeTextFile(`${dir}/.mutate-owner`, String(Deno.pid));
    for (const rel of new TextDecoder().decode(list.stdout).split("\0").filter(Boolean)) {
      const st = await Deno.lstat(`${root}/${rel}`).catch(() => null);
      if (!st?.isFile) continue;
      const to = `${dir}/${rel}`;
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(`${root}/${rel}`, to);
    }
    if (await Deno.stat(`${root}/node_modules`).then(() => true, () => false)) await Deno.symlink(`${root}/node_modules`, `${dir}/node_modules`);
    return new Sandbox(root, dir);
  }

  async read(rel: string): Promise<string> {
    return await Deno.readTextFile(`${this.dir}/${rel}`);
  }

  async write(rel: string, text: string): Promise<void> {
    await Deno.writeTextFile(`${this.dir}/${rel}`, text);
  }

  /** `deno test` over these files in the copy; killed (with everything it started) after timeoutMs. */
  async runTests(tests: readonly string[], timeoutMs: number): Promise<TestRun> {
    const t0 = performance.now();
    const child = new Deno.Command("setsid", {
      args: [Deno.execPath(), "test", "-A", "--no-check", "--fail-fast", "--quiet", ...tests],
      cwd: this.dir, stdout: "piped", stderr: "piped", stdin: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch { /* already gone */ }
    }, timeoutMs);
    const [status, out, err] = await Promise.all([child.status, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    clearTimeout(timer);
    return { ok: status.success && !timedOut, timedOut, ms: performance.now() - t0, output: out + err };
  }

  async destroy(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Sandboxes left by runs that were killed (their owner process is gone). */
async function removeStaleSandboxes(): Promise<void> {
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const entries = await Array.fromAsync(Deno.readDir(tmp)).catch(() => [] as Deno.DirEntry[]);
  for (const e of entries) {
    if (!e.isDirectory || !e.name.startsWith("nanochat-mutate-")) continue;
    const owner = Number(await Deno.readTextFile(`${tmp}/${e.name}/.mutate-owner`).catch(() => "NaN"));
    if (!Number.isInteger(owner)) continue; // not ours to judge
    const alive = await Deno.stat(`/proc/${owner}`).then(() => true, () => false);
    if (!alive) await Deno.remove(`${tmp}/${e.name}`, { recursive: true }).catch(() => {});
  }
}

/** The first failing test's name in `deno test` output. */
export function firstFailure(output: string): string | undefined {
  const m = output.match(/^(.+?) \.\.\. FAILED/m) ?? output.match(/^(.+?) => \S+:\d+:\d+$/m);
  return m?.[1].trim();
}

/**
 * Applies the mutant in the sandbox, runs its test files one `deno test` at a time in the
 * given order (nearest, then fastest, first) until one fails or times out (factor × its
 * unmutated time + 10 s), and writes the file back. One process per file costs a start
 * each, but a mutant the first file kills never loads the others. Once `budgetMs` is spent
 * no further file starts: the mutant survives with the files left unrun counted (a
 * survivor otherwise runs every file that reaches it — the whole suite for a core module).
 */
export async function runMutant(
  box: Sandbox, m: Mutant, tests: readonly { file: string; ms: number }[], factor: number, original: string, budgetMs = Infinity,
): Promise<Outcome> {
  await box.write(m.file, applyMutant(original, m));
  const t0 = performance.now();
  const ran: string[] = [];
  try {
    for (const t of tests) {
      if (ran.length > 0 && performance.now() - t0 > budgetMs) {
        return { mutant: m, status: "survived", tests: ran, ms: performance.now() - t0, unrun: tests.length - ran.length };
      }
      ran.push(t.file);
      const r = await box.runTests([t.file], factor * t.ms + 10_000);
      if (r.timedOut) return { mutant: m, status: "timeout", tests: ran, ms: performance.now() - t0, failed: t.file };
      if (!r.ok) return { mutant: m, status: "killed", tests: ran, ms: performance.now() - t0, failed: `${t.file}: ${firstFailure(r.output) ?? "failed"}` };
    }
    return { mutant: m, status: "survived", tests: ran, ms: performance.now() - t0 };
  } finally {
    await box.write(m.file, original);
  }
}

/**
 * The WGSL first stage: a long-lived tests/mutation/kernel_worker.ts in the sandbox runs the
 * kernel cases against a mutated source. A hang (a mutant that never ends a loop) or a
 * lost device kills the worker; the next call starts a new one.
 */
export class KernelWorker {
  private child: Deno.ChildProcess | null = null;
  private writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  private lines: AsyncIterator<string> | null = null;

  constructor(private box: Sandbox) {}

  private start(): void {
    this.child = new Deno.Command("setsid", {
      args: [Deno.execPath(), "run", "-A", "--no-check", "tests/mutation/kernel_worker.ts"],
      cwd: this.box.dir, stdin: "piped", stdout: "piped", stderr: "null", env: { NO_COLOR: "1" },
    }).spawn();
    this.writer = this.child.stdin.getWriter();
    this.lines = this.child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines()).values();
  }

  /** Whether the kernel cases kill this mutated source (null: the worker hung and was killed). */
  async check(file: string, source: string, timeoutMs: number): Promise<{ killed: boolean; failed?: string } | null> {
    if (!this.child) this.start();
    await this.writer!.write(new TextEncoder().encode(JSON.stringify({ file, source }) + "\n"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), timeoutMs));
    const read = (async () => {
      for (;;) {
        const next = await this.lines!.next();
        if (next.done) return undefined;
        if (next.value.startsWith("@@result ")) return JSON.parse(next.value.slice(9)) as { killed: boolean; failed?: string; lost?: boolean };
      }
    })();
    const r = await Promise.race([read, timeout]);
    clearTimeout(timer);
    if (r === null || r === undefined || r.lost) {
      this.stop();
      return r ? { killed: true, failed: r.failed } : null;
    }
    return r;
  }

  stop(): void {
    if (!this.child) return;
    try {
      Deno.kill(-this.child.pid, "SIGKILL");
    } catch { /* gone */ }
    this.child = null;
    this.writer = null;
    this.lines = null;
  }
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, ctl) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const p of parts) ctl.enqueue(p);
    },
    flush(ctl) {
      if (rest) ctl.enqueue(rest);
    },
  });
}
