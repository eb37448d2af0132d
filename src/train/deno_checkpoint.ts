// Checkpoints on disk under Deno: the crash-safe save (tmp directory + rename), listing,
// cleanup of interrupted saves, loading. The layout and the rename protocol are described
// in src/formats/checkpoint.ts, which holds the format itself.
import {
  type CheckpointData, CheckpointError, decodeCheckpoint, encodeCheckpoint, type LoadedCheckpoint, META_FILE, MODEL_FILE,
  orNull, parseStepDirName, selectCheckpoints, stepDirName,
} from "../formats/checkpoint.ts";
import { SafetensorsError } from "../formats/safetensors.ts";

let tmpCounter = 0;
const uniq = () => `${Deno.pid}-${tmpCounter++}`;
const ckptRoot = (runDir: string) => `${runDir.replace(/\/+$/, "")}/checkpoints`;

export function checkpointDir(runDir: string, step: number): string {
  return `${ckptRoot(runDir)}/${stepDirName(step)}`;
}

/** Subdirectories of `dir`; [] when it does not exist. */
async function namesIn(dir: string): Promise<string[]> {
  const entries = await Array.fromAsync(Deno.readDir(dir)).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  });
  return entries.filter((e) => e.isDirectory).map((e) => e.name).sort();
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** fsync a directory so the renames in it survive a power loss (best effort: not every OS allows it). */
async function syncDir(dir: string): Promise<void> {
  const f = await Deno.open(dir, { read: true }).catch(() => null); // not every platform opens directories
  if (!f) return;
  await f.sync().catch(() => {});
  f.close();
}

/** Deletes a directory without ever leaving a half-deleted `step_N`: rename to .del-*, then remove. */
async function removeDir(root: string, name: string): Promise<void> {
  const p = parseStepDirName(name);
  let target = `${root}/${name}`;
  if (p && p.kind !== "del" && p.kind !== "tmp") {
    const del = `${root}/${stepDirName(p.step)}.del-${uniq()}`;
    await Deno.rename(target, del);
    target = del;
  }
  await Deno.remove(target, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}

/** Step → directory of each complete checkpoint (step_N holding meta.json and model.safetensors). */
async function completeCheckpoints(runDir: string): Promise<Map<number, string>> {
  const root = ckptRoot(runDir);
  const out = new Map<number, string>();
  for (const [step, name] of selectCheckpoints(await namesIn(root))) {
    const dir = `${root}/${name}`;
    if (await exists(`${dir}/${META_FILE}`) && await exists(`${dir}/${MODEL_FILE}`)) out.set(step, dir);
  }
  return out;
}

/**
 * step_N directories that are not checkpoints (meta.json or model.safetensors missing, e.g.
 * deleted by hand or lost with a disk), each with what is missing; --resume names them.
 */
export async function incompleteCheckpoints(runDir: string): Promise<{ step: number; dir: string; missing: string[] }[]> {
  const root = ckptRoot(runDir);
  const out: { step: number; dir: string; missing: string[] }[] = [];
  for (const [step, name] of selectCheckpoints(await namesIn(root))) {
    const dir = `${root}/${name}`;
    const missing = [];
    for (const f of [META_FILE, MODEL_FILE]) if (!(await exists(`${dir}/${f}`))) missing.push(f);
    if (missing.length) out.push({ step, dir, missing });
  }
  return out;
}

export async function listCheckpoints(runDir: string): Promise<number[]> {
  return [...(await completeCheckpoints(runDir)).keys()];
}

export async function latestCheckpoint(runDir: string): Promise<{ step: number; dir: string } | null> {
  const last = [...(await completeCheckpoints(runDir))].at(-1);
  return last ? { step: last[0], dir: last[1] } : null;
}

/** The directory holding step `step` of the run (its aside copy mid-replace), or null. */
export async function findCheckpoint(runDir: string, step: number): Promise<string | null> {
  return (await completeCheckpoints(runDir)).get(step) ?? null;
}

/** Removes what interrupted saves left behind: tmp and del directories; old copies go back or away. */
export async function cleanupCheckpoints(runDir: string): Promise<void> {
  const root = ckptRoot(runDir);
  const names = await namesIn(root);
  for (const name of names) {
    const p = parseStepDirName(name);
    if (!p || p.kind === "complete") continue;
    if (p.kind === "old" && !(await exists(`${root}/${stepDirName(p.step)}`))) {
      await Deno.rename(`${root}/${name}`, `${root}/${stepDirName(p.step)}`); // interrupted replace: restore
    } else {
      await removeDir(root, name);
    }
  }
}

async function writeChunks(path: string, chunks: Uint8Array[]): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (const chunk of chunks) for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
}

/**
 * Saves step `step` atomically (see the header) and returns its directory. keepLast > 0
 * keeps only that many checkpoints with the highest steps, always including this one.
 */
export async function saveCheckpoint(runDir: string, step: number, data: CheckpointData, opts: { keepLast?: number } = {}): Promise<string> {
  const files = encodeCheckpoint(step, data); // validates before anything touches the disk
  const root = ckptRoot(runDir);
  await Deno.mkdir(root, { recursive: true });
  await cleanupCheckpoints(runDir);
  const final = checkpointDir(runDir, step);
  const tmp = `${final}.tmp-${uniq()}`;
  await Deno.mkdir(tmp);
  for (const f of files) await writeChunks(`${tmp}/${f.name}`, f.chunks);
  await syncDir(tmp);
  let aside: string | null = null;
  if (await exists(final)) {
    aside = `${final}.old-${uniq()}`;
    await Deno.rename(final, aside);
  }
  await Deno.rename(tmp, final);
  await syncDir(root);
  if (aside) await removeDir(root, aside.slice(root.length + 1));
  if (opts.keepLast !== undefined && opts.keepLast > 0) {
    const others = [...(await completeCheckpoints(runDir))].filter(([s]) => s !== step);
    const doomed = others.slice(0, Math.max(0, others.length - (opts.keepLast - 1)));
    for (const [, dir] of doomed) await removeDir(root, dir.slice(root.length + 1));
  }
  return final;
}

/** Names the other checkpoints of the run, for error messages. */
async function recoveryHint(dir: string): Promise<string> {
  const m = /^(.*)\/checkpoints\/([^/]+)\/?$/.exec(dir);
  if (!m) return `delete ${dir} or load another checkpoint`;
  const self = parseStepDirName(m[2])?.step;
  const others = (await listCheckpoints(m[1]).catch(() => [] as number[])).filter((s) => s !== self);
  return others.length
    ? `delete ${dir} or resume from step ${others[others.length - 1]} (complete checkpoints: ${others.join(", ")})`
    : `delete ${dir}; the run has no other complete checkpoint, so it starts over`;
}

/**
 * Loads and validates a checkpoint directory; errors name the file and say what to do.
 * withOptimizer: false skips optim.safetensors (an export of the weights needs only them).
 */
export async function loadCheckpoint(dir: string, opts: { withOptimizer?: boolean } = {}): Promise<LoadedCheckpoint> {
  try {
    return await decodeCheckpoint((name) => orNull(() => Deno.readFile(`${dir}/${name}`)), dir, opts);
  } catch (err) {
    if (err instanceof CheckpointError || err instanceof SafetensorsError) {
      err.message += `. To go on: ${await recoveryHint(dir)}.`;
    }
    throw err;
  }
}
