// `deno task bench dist`: a data-parallel step (src/dist/) against one adapter doing the
// same work: the tiny preset's model, the same micro-batches per step, at world 1 (one
// rank accumulating them all) and at world W (each rank its share, gradients summed on rank
// 0, the new weights sent back). Prints step time, tokens/s and the time spent in the
// exchange (reading gradients back, moving them and the weights between processes, summing
// and uploading) with its fraction of the step.
import { parseFlags, UsageError } from "../args.ts";
import { acquireGpu } from "../../gpu/device.ts";
import type { GPTConfig } from "../../model/config.ts";
import { numParams } from "../../model/config.ts";
import { GPT } from "../../model/gpt.ts";
import { initParams } from "../../model/params.ts";
import { ModelOptimizer, NANOCHAT_OPTIM } from "../../optim/optimizer.ts";
import { muonMomentum } from "../../optim/schedule.ts";
import { DenoWorld, parsePlacements } from "../../dist/deno_world.ts";
import { type ExchangeTiming, flatten, worldStep } from "../../dist/step.ts";
import { submitTrainStep } from "../../train/step.ts";
import { Rng } from "../../util/rng.ts";
import { markdownTable } from "./matmul.ts";

const FLAGS = {
  steps: { type: "number", default: 3, min: 1, integer: true, help: "timed steps per world size (after one warm-up step)" },
  world: { type: "number", default: 2, min: 2, max: 64, integer: true, help: "the data-parallel world size compared with world 1" },
  micro: { type: "number", default: 2, min: 1, integer: true, help: "micro-batches per step in all (a multiple of --world)" },
  adapters: { type: "string", default: "", help: "where the ranks run (as train --adapters: default, VENDOR:DEVICE, swiftshader, icd:/path.json)" },
} as const;

const TINY: GPTConfig = { sequence_len: 128, vocab_size: 4096, n_layer: 2, n_head: 2, n_kv_head: 2, n_embd: 128 };
const B = 8;

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench dist", "Data-parallel step time and the gradient exchange's share, world 1 vs world N.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (f.micro % f.world !== 0) throw new UsageError(`--micro ${f.micro} must be a multiple of --world ${f.world}`);
  const gpu = await acquireGpu();
  const T = TINY.sequence_len, N = B * T;
  const model = await GPT.create(gpu, TINY, { B, T, training: true });
  const init = initParams(TINY, 1);
  const rng = new Rng(2);
  const batch = () => {
    const seq = Int32Array.from({ length: N + 1 }, () => rng.int(TINY.vocab_size));
    return { inputs: seq.slice(0, N), targets: seq.slice(1) };
  };
  const micro = () => Array.from({ length: f.micro }, batch);
  const P = numParams(TINY);
  console.log(`rank 0: ${gpu.description}`);
  console.log(`tiny preset model (${P.toLocaleString("en-US")} params), ${f.micro} micro-batches of ${B}×${T} per step, ${f.steps} timed steps`);

  const rows: string[][] = [];
  const row = (world: number, adapters: string, sec: number, wait: number, exchange: number) => [
    String(world), adapters, (sec * 1000).toFixed(0), ((f.micro * N) / sec).toFixed(0), (wait * 1000).toFixed(0), (exchange * 1000).toFixed(0),
    `${((100 * exchange) / sec).toFixed(1)}%`, world > 1 ? `${((2 * P * 4 * (world - 1)) / 2 ** 20).toFixed(1)} MiB` : "—",
  ];

  // World 1: one adapter accumulates every micro-batch.
  {
    model.loadParams(init);
    const opt = await ModelOptimizer.create(gpu, TINY.n_embd, model.params, model.grads, NANOCHAT_OPTIM);
    await (await submitTrainStep(model, opt, micro(), 1, muonMomentum(0))).result;
    const t0 = performance.now();
    for (let s = 0; s < f.steps; s++) await (await submitTrainStep(model, opt, micro(), 1, muonMomentum(s + 1))).result;
    rows.push(row(1, "rank 0", (performance.now() - t0) / 1000 / f.steps, 0, 0));
    opt.destroy();
  }

  // World W: ranks 1… as child processes.
  const world = await DenoWorld.start(parsePlacements(f.adapters, f.world), { cfg: TINY, B, T }, gpu.description, (l) => console.log(l));
  try {
    model.loadParams(init);
    await world.broadcastWeights(flatten(TINY, await model.readParams()));
    const opt = await ModelOptimizer.create(gpu, TINY.n_embd, model.params, model.grads, NANOCHAT_OPTIM);
    await worldStep(world, model, opt, micro(), 1, muonMomentum(0));
    const timing: ExchangeTiming = { compute: 0, wait: 0, exchange: 0 };
    const t0 = performance.now();
    for (let s = 0; s < f.steps; s++) await worldStep(world, model, opt, micro(), 1, muonMomentum(s + 1), timing);
    const sec = (performance.now() - t0) / 1000 / f.steps;
    rows.push(row(f.world, f.adapters || "default (all ranks)", sec, timing.wait / f.steps, timing.exchange / f.steps));
    opt.destroy();
  } finally {
    await world.close();
    model.destroy();
  }
  console.log("\n" + markdownTable(["world", "adapters", "step ms", "tokens/s", "waiting for ranks ms", "exchange ms", "exchange share", "moved/step"], rows));
  console.log("\n(waiting: rank 0 idle until the other ranks' gradients arrive, beyond its own compute — ranks sharing one adapter or one CPU wait for each other; exchange: gradients read back, moved, summed and uploaded, the new weights read back and sent; moved: one gradient up and one set of weights down per rank ≥ 1)");
}
