// `deno task bench step`: where one training step's time goes. Builds a GPT and its
// optimizer, then times every op of the step alone (timestamp queries where the adapter
// has them) and sums them by kind — matmul, attention, other — within zero-grad,
// forward, backward and optimizer; also the whole step as one submit and its dispatches.
// The per-op sum runs higher than the whole step (each op pays its own pass), so compare
// kinds with each other and across commits (`--baseline REV`), not with the wall time.
import { parseFlags } from "../args.ts";
import { acquireGpu } from "../../gpu/device.ts";
import { type Op, runOps } from "../../gpu/kernel.ts";
import { timeOps } from "../../gpu/timing.ts";
import { configFromDepth } from "../../model/config.ts";
import { markdownTable } from "./matmul.ts";
import { benchStepSetup } from "./optim.ts";

const FLAGS = {
  depth: { type: "number", default: 2, help: "model depth (the tiny preset: 2)" },
  vocab: { type: "number", default: 4096, help: "vocabulary size" },
  batch: { type: "number", default: 8, help: "sequences per step (B)" },
  "seq-len": { type: "number", default: 128, help: "sequence length (T)" },
  repeats: { type: "number", default: 2, help: "repetitions of each op per timing" },
  top: { type: "number", default: 12, help: "also list the N slowest ops" },
  adapter: { type: "string", default: "", help: "adapter name substring" },
} as const;

/** The kind of an op from its label: matmuls say "(A·B…", attention says so; the rest is element-wise or reductions. */
export function kindOf(label: string): string {
  return /\((A|Aᵀ)·/.test(label) ? "matmul" : /attention/.test(label) ? "attention" : "other";
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench step", "Time each op of one training step on this adapter, summed by kind.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  const B = f.batch, T = f["seq-len"];
  const cfg = configFromDepth(f.depth, { vocabSize: f.vocab, sequenceLen: T });
  console.log(`adapter: ${gpu.description}`);
  console.log(`config: ${JSON.stringify(cfg)}  B×T: ${B}×${T}`);
  const { model, opt } = await benchStepSetup(gpu, cfg, B, T);
  const phases: [string, Op[]][] = [["zero-grad", model.zeroGradOps], ["forward", model.forwardOps], ["backward", model.backwardOps], ["optimizer", opt.ops]];
  const all = phases.flatMap(([, ops]) => ops);
  await runOps(gpu, all, "bench step (warm-up)");
  await gpu.device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  await runOps(gpu, all, "bench step");
  await gpu.device.queue.onSubmittedWorkDone();
  const wall = performance.now() - t0;

  const rows: string[][] = [];
  const each: { phase: string; label: string; ms: number }[] = [];
  let source = "";
  for (const [phase, ops] of phases) {
    const byKind = new Map<string, { n: number; ms: number }>();
    for (const op of ops) {
      const t = await timeOps(gpu, [op], f.repeats, op.label);
      source = t.source;
      each.push({ phase, label: op.label, ms: t.ms });
      const k = byKind.get(kindOf(op.label)) ?? { n: 0, ms: 0 };
      k.n++, k.ms += t.ms;
      byKind.set(kindOf(op.label), k);
    }
    for (const [kind, v] of [...byKind].sort((a, b) => b[1].ms - a[1].ms)) rows.push([`${phase} ${kind}`, String(v.n), v.ms.toFixed(1)]);
  }
  rows.push(["whole step (one submit, wall clock)", String(all.length), wall.toFixed(1)]);
  console.log(`\nops timed alone (${source}), summed by phase and kind:\n`);
  console.log(markdownTable(["phase and kind", "dispatches", "ms"], rows));
  if (f.top > 0) {
    console.log(`\nslowest ops:`);
    for (const e of each.sort((a, b) => b.ms - a.ms).slice(0, f.top)) console.log(`${e.ms.toFixed(1).padStart(9)} ms  ${e.phase.padEnd(9)} ${e.label}`);
  }
  model.destroy();
  opt.destroy();
}
