// --run NAME | --checkpoint DIR → a checkpoint directory and the tokenizer it was trained
// with (a copy inside the checkpoint, as `export checkpoint` writes, else the run
// directory's, else --tokenizer-dir), shared by eval and chat.
import { denoFiles } from "../io/deno_files.ts";
import { latestCheckpoint } from "../train/deno_checkpoint.ts";
import { UsageError } from "./args.ts";

export const CHECKPOINT_FLAGS = {
  run: { type: "string", default: "", help: "run name: its latest checkpoint under --runs-dir" },
  checkpoint: { type: "string", default: "", help: "a checkpoint directory (runs/<run>/checkpoints/step_NNNNNN)" },
  "runs-dir": { type: "string", default: "runs", help: "directory holding the runs" },
  "tokenizer-dir": { type: "string", default: "data/tokenizer", help: "tokenizer to use when the run directory holds none" },
} as const;

export async function resolveCheckpointArgs(f: { run: string; checkpoint: string; "runs-dir": string; "tokenizer-dir": string }): Promise<{ checkpointDir: string; tokenizerDir: string }> {
  if (!!f.run === !!f.checkpoint) throw new UsageError("pass exactly one of --run NAME or --checkpoint DIR");
  let dir = f.checkpoint.replace(/\/+$/, "");
  if (f.run) {
    const latest = await latestCheckpoint(`${f["runs-dir"]}/${f.run}`);
    if (!latest) throw new UsageError(`run '${f.run}' has no checkpoint in ${f["runs-dir"]}/${f.run}/checkpoints (train one with 'deno task train base --run ${f.run}')`);
    dir = latest.dir;
  }
  const files = denoFiles(".");
  // An exported checkpoint lives outside any run, so it carries its tokenizer inside.
  const inside = `${dir}/tokenizer`;
  if (await files.exists(`${inside}/tokenizer.json`)) return { checkpointDir: dir, tokenizerDir: inside };
  const runDir = dir.replace(/\/checkpoints\/[^/]+\/?$/, "");
  const own = `${runDir}/tokenizer`;
  const tokenizerDir = runDir !== dir && (await files.exists(`${own}/tokenizer.json`)) ? own : f["tokenizer-dir"];
  return { checkpointDir: dir, tokenizerDir };
}
