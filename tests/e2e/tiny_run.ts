// The smallest real `deno task train base` run, shared by the end-to-end and lab tests:
// depth 1, width 32, vocab 512, 8 steps of 128 tokens with evaluations at steps 0, 4 and
// 8 — seconds on a software adapter. Data and tokenizer are prepared under `tmp` on the
// first run and reused by later ones.
export const ROOT = new URL("../../", import.meta.url).pathname;

export interface TinyRunOptions {
  /** Steps between checkpoints (default 2). */
  checkpointEvery?: number;
  /** More flags, after the defaults. */
  extra?: string[];
}

export function tinyTrainArgs(tmp: string, run: string, opts: TinyRunOptions = {}): string[] {
  return [
    "run", "-A", "src/cli/train.ts", "base",
    "--run", run, "--runs-dir", `${tmp}/runs`, "--data-dir", `${tmp}/data`, "--tokenizer-dir", `${tmp}/tok`,
    "--depth", "1", "--n-embd", "32", "--n-head", "2", "--vocab-size", "512", "--max-seq-len", "32",
    "--device-batch-size", "2", "--total-batch-size", "128", "--num-iterations", "8",
    "--eval-every", "4", "--eval-tokens", "64", "--sample-every", "-1", "--checkpoint-every", String(opts.checkpointEvery ?? 2),
    ...(opts.extra ?? []),
  ];
}

/** Trains the run to its end; resolves to its output, or throws with it when the command fails. */
export async function trainTiny(tmp: string, run: string, opts: TinyRunOptions = {}): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: tinyTrainArgs(tmp, run, opts), cwd: ROOT, stdout: "piped", stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  if (r.code !== 0) throw new Error(`train ${run} failed (exit ${r.code}):\n${out}`);
  return out;
}
