// `deno task bench optim`: the optimizer step (grad norm + AdamW + Muon) time next to the
// forward+backward time of the same model, as a fraction.
import { parseFlags } from "../args.ts";
import { acquireGpu, type Gpu } from "../../gpu/device.ts";
import { type Op, runOps } from "../../gpu/kernel.ts";
import { configFromDepth, type GPTConfig, numParams } from "../../model/config.ts";
import { GPT } from "../../model/gpt.ts";
import { initParams } from "../../model/params.ts";
import { ModelOptimizer, NANOCHAT_OPTIM } from "../../optim/optimizer.ts";
import { Rng } from "../../util/rng.ts";

const FLAGS = {
  depth: { type: "number", default: 2, help: "model depth" },
  vocab: { type: "number", default: 4096, help: "vocabulary size" },
  batch: { type: "number", default: 2, help: "sequences per step (B)" },
  "seq-len": { type: "number", default: 128, help: "sequence length (T)" },
  steps: { type: "number", default: 3, help: "timed repetitions" },
  adapter: { type: "string", default: "", help: "adapter name substring" },
} as const;

async function timeMs(gpu: Gpu, ops: Op[], reps: number, what: string): Promise<number> {
  await runOps(gpu, ops, what);
  await gpu.device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await runOps(gpu, ops, what);
  await gpu.device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / reps;
}

/**
 * A training model and its optimizer with one random batch uploaded and the step's LR and
 * momentum set: everything a benchmark of the step's ops needs (bench optim, bench step).
 */
export async function benchStepSetup(gpu: Gpu, cfg: GPTConfig, B: number, T: number): Promise<{ model: GPT; opt: ModelOptimizer }> {
  const model = await GPT.create(gpu, cfg, { B, T, training: true });
  model.loadParams(initParams(cfg, 42));
  const opt = await ModelOptimizer.create(gpu, cfg.n_embd, model.params, model.grads, NANOCHAT_OPTIM);
  const rng = new Rng(1);
  const N = B * T;
  model.setBatch(Int32Array.from({ length: N }, () => rng.int(cfg.vocab_size)), Int32Array.from({ length: N }, () => rng.int(cfg.vocab_size)));
  opt.prepareStep(1, 0.9);
  return { model, opt };
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench optim", "Time the optimizer step against forward+backward.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  const T = f["seq-len"];
  const cfg = configFromDepth(f.depth, { vocabSize: f.vocab, sequenceLen: T });
  console.log(`adapter: ${gpu.description}`);
  console.log(`config: ${JSON.stringify(cfg)}  params: ${numParams(cfg).toLocaleString("en-US")}  B×T: ${f.batch}×${T}`);
  const { model, opt } = await benchStepSetup(gpu, cfg, f.batch, T);
  const fb = await timeMs(gpu, [...model.zeroGradOps, ...model.forwardOps, ...model.backwardOps], f.steps, "forward+backward");
  const muonOps = opt.muon?.ops.length ?? 0;
  const optMs = await timeMs(gpu, opt.ops, f.steps, "optimizer");
  console.log(`forward+backward: ${fb.toFixed(1)} ms (${model.dispatchCount.forward + model.dispatchCount.backward} dispatches)`);
  console.log(`optimizer step:   ${optMs.toFixed(1)} ms (${opt.ops.length} dispatches: ${opt.gradNorm.ops.length} grad-norm, ${opt.adamw.ops.length} AdamW, ${muonOps} Muon)`);
  console.log(`optimizer / forward+backward: ${(optMs / fb).toFixed(3)}`);
  model.destroy();
  opt.destroy();
}
