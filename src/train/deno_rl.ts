// DENO-ONLY: `deno task train rl`, the reference's RL (chat_rl.py) on the shared stage
// runner: on-policy REINFORCE with a mean baseline, starting from an SFT checkpoint.
// Each step takes `target_examples_per_step` problems; the KV-cache engine — reading the
// weights being trained, so every sample comes from the latest update — writes `samples`
// completions of each, many problems' rows decoded together (temperature 1, top-k 50,
// the calculator answering tool calls); the task scores them; advantage = reward − the
// problem's mean reward; each pass of device_batch_size completions is one micro-batch
// whose sampled tokens weigh their advantage in the loss (prompt and forced tool output
// carry none). One update per step, LRs × init_lr_frac (0.05), lrm falling linearly to 0,
// Muon momentum 0.95.
// Every eval_every steps (and at the start and end): pass@1…k on held-out problems.
import { Engine } from "../engine/engine.ts";
import { KVCache } from "../model/kv_cache.ts";
import type { Gpu } from "../gpu/device.ts";
import { keepPromptEnd, renderForCompletion } from "../tokenizer/chat.ts";
import { Arithmetic } from "../../tasks/arithmetic.ts";
import type { Task, TaskExample } from "../../tasks/common.ts";
import { loadDataset } from "../../tasks/deno_datasets.ts";
import { OFFLINE_TEST_SIZE } from "../../tasks/deno_eval_tasks.ts";
import { OFFLINE_MID, OFFLINE_SFT } from "../../tasks/deno_mixtures.ts";
import { GSM8K } from "../../tasks/gsm8k.ts";
import { chatStageConfig, openChatSource } from "./deno_chat.ts";
import { runStage, type StageResult, TrainError } from "./deno_stage.ts";
import { stepDirName } from "../formats/checkpoint.ts";
import { advantages, passAtK, RL_SAMPLING, type RlSample, type RlSampling, rlRows } from "./rl.ts";
export { RL_SAMPLING, type RlSampling } from "./rl.ts";
import type { MicroBatch } from "./step.ts";
import type { RunConfig } from "./run_config.ts";

/**
 * RL's problems: `arithmetic` (generated, offline: what mid and SFT teach), `arithmetic-long`
 * (generated, offline: the same problems over longer numbers, where SFT alone is far from
 * its ceiling) or `gsm8k` (downloaded).
 */
export const RL_TASKS = ["arithmetic", "arithmetic-long", "gsm8k"] as const;
/** Generated arithmetic problems RL draws from: the ones after mid's and SFT's (the test split's 200 stay held out). */
const ARITHMETIC_TRAIN = 4000;

async function rlTasks(name: string): Promise<{ train: Task; test: Task }> {
  if (name === "" || name === "arithmetic") {
    const start = OFFLINE_MID.arithmetic + OFFLINE_SFT.arithmetic;
    return { train: new Arithmetic("train", start + ARITHMETIC_TRAIN, { start }), test: new Arithmetic("test", OFFLINE_TEST_SIZE.arithmetic) };
  }
  if (name === "arithmetic-long") {
    // Its own streams: no mid or SFT example is among them, and its test split is held out.
    return { train: new Arithmetic("train", ARITHMETIC_TRAIN, {}, "long"), test: new Arithmetic("test", OFFLINE_TEST_SIZE.arithmetic, {}, "long") };
  }
  if (name === "gsm8k") {
    const [train, test] = await Promise.all([loadDataset("gsm8k-train"), loadDataset("gsm8k-test")]);
    return { train: new GSM8K(train.rows, { name: "gsm8k-train", source: train.locate }), test: new GSM8K(test.rows, { name: "gsm8k", source: test.locate }) };
  }
  throw new TrainError(`unknown RL task '${name}' (from --mixture); the tasks are: ${RL_TASKS.join(", ")}`);
}

export interface RlTrainOptions {
  gpu: Gpu;
  from: string;
  resume: boolean;
  overrides: Partial<RunConfig>;
  sampling?: Partial<RlSampling>;
  preset?: string;
  log?: (line: string) => void;
}

/** A sampling seed per batch of rows (its first problem, its first row), as the reference derives one per step, example and pass. */
function seedOf(problem: number, pass: number): number {
  return (Math.imul(problem + 1, 0x9e3779b1) ^ Math.imul(pass + 1, 0x85ebca6b)) & 0x7fffffff;
}

export async function trainRl(opts: RlTrainOptions): Promise<StageResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const s: RlSampling = { ...RL_SAMPLING, ...opts.sampling };
  const { source, probe, tok } = await openChatSource("rl", opts.from, opts.overrides);
  const B = probe.config.device_batch_size, T = probe.config.max_seq_len, Q = probe.config.target_examples_per_step;
  if (!Number.isInteger(s.samples) || s.samples < B || s.samples % B !== 0) {
    throw new TrainError(`--samples ${s.samples} must be a positive multiple of device_batch_size ${B} (each pass of ${B} completions is one micro-batch)`);
  }
  if (!Number.isInteger(s.maxNewTokens) || s.maxNewTokens < 1 || s.maxNewTokens >= T) {
    throw new TrainError(`--max-new-tokens ${s.maxNewTokens} must be 1 … ${T - 1} (max_seq_len ${T} holds the prompt and the completion)`);
  }
  if (!Number.isInteger(s.evalSamples) || s.evalSamples < 1) throw new TrainError(`--eval-samples ${s.evalSamples} must be a positive integer`);
  const tasks = await rlTasks(probe.config.mixture);
  const passes = s.samples / B;
  const numIterations = Math.max(1, Math.floor(tasks.train.length / Q));
  const r = chatStageConfig("rl", source, { ...opts.overrides, total_batch_size: Q * s.samples * T }, numIterations);
  const evalProblems = Math.min(s.evalProblems, tasks.test.length);
  log(
    `rl: ${tasks.train.name} (${tasks.train.length.toLocaleString("en-US")} problems), ${Q} a step × ${s.samples} samples (${passes} pass${passes > 1 ? "es" : ""} of ${B}), ` +
      `≤ ${s.maxNewTokens} new tokens, temperature ${s.temperature}, top-k ${s.topK}; held out: ${evalProblems} ${tasks.test.name} problems × ${s.evalSamples} samples`,
  );
  const padId = tok.specialId("<|assistant_end|>");
  // A prompt that would leave no room for the reply keeps its end (the question).
  const promptOf = (ex: TaskExample) => keepPromptEnd(renderForCompletion(tok, ex), T - s.maxNewTokens);

  return await runStage({
    stage: "rl", resolved: r, gpu: opts.gpu, resume: opts.resume, tok, log,
    source: `${source.run}/${stepDirName(source.step)}`, preset: opts.preset,
    fixedMomentum: 0.95,
    initialParams: () => source.checkpoint.params,
    data: ({ model, checkpoint }) => {
      const engine = Engine.sharing(opts.gpu, r.model, model.params, tok, {
        // Completions sampled together: all a step (or the held-out eval) needs, within the engine's batch rule, at least a micro-batch.
        maxBatch: Math.max(B, KVCache.batchRows(r.model, T, Math.max(Q * s.samples, evalProblems * s.evalSamples))), capacity: T,
      });
      let cursor = (checkpoint?.meta.loader_state as { cursor?: number } | null | undefined)?.cursor ?? 0;
      const queue: MicroBatch[] = [];
      let stats = { rewards: [] as number[], lengths: [] as number[], tokens: 0, ms: 0, problems: 0, mixed: 0 };

      // Samples of several problems decode together (rows = problem × sample), as many
      // as the engine holds; each problem's samples then make its micro-batches.
      const sampleRows = async (problemPrompts: number[][], perProblem: number, seed: number) => {
        const prompts = problemPrompts.flatMap((p) => new Array(perProblem).fill(p));
        const out: RlSample[] = [];
        for (let i = 0; i < prompts.length; i += engine.maxBatch) {
          const g = await engine.generateEach(prompts.slice(i, i + engine.maxBatch), { maxTokens: s.maxNewTokens, temperature: s.temperature, topK: s.topK, seed: seedOf(seed, i) });
          g.sequences.forEach((tokens, j) => out.push({ tokens, forced: g.masks[j].map((m) => m === 0) }));
        }
        return problemPrompts.map((_, k) => out.slice(k * perProblem, (k + 1) * perProblem));
      };

      const sampleStep = async () => {
        const indices = Array.from({ length: Q }, () => cursor++ % tasks.train.length);
        const examples = indices.map((i) => tasks.train.example(i));
        const prompts = examples.map(promptOf);
        const t0 = performance.now();
        const perProblem = await sampleRows(prompts, s.samples, indices[0]);
        stats.ms += performance.now() - t0;
        for (let k = 0; k < Q; k++) {
          const ex = examples[k], samples = perProblem[k], prompt = prompts[k];
          const rewards = await Promise.all(samples.map((x) => tasks.train.reward(ex, tok.decode(x.tokens))));
          const advs = advantages(rewards);
          // A problem whose samples all scored the same teaches nothing (every advantage 0; the step skips its passes).
          stats.problems++;
          if (advs.some((a) => a !== 0)) stats.mixed++;
          for (let p = 0; p < passes; p++) {
            const rows = rlRows(prompt, samples.slice(p * B, (p + 1) * B), advs.slice(p * B, (p + 1) * B), padId, T);
            queue.push({ inputs: rows.inputs, targets: rows.targets, weights: rows.weights });
          }
          stats.rewards.push(...rewards);
          for (const x of samples) stats.lengths.push(x.tokens.length), stats.tokens += x.tokens.length;
        }
      };

      return Promise.resolve({
        nextBatch: async () => {
          if (queue.length === 0) await sampleStep();
          return queue.shift()!;
        },
        batchMetrics: () => {
          const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
          const out = {
            reward: mean(stats.rewards), seq_len: mean(stats.lengths), sample_tok_per_sec: stats.ms > 0 ? (1000 * stats.tokens) / stats.ms : 0,
            mixed_frac: stats.problems ? stats.mixed / stats.problems : 0,
          };
          stats = { rewards: [], lengths: [], tokens: 0, ms: 0, problems: 0, mixed: 0 };
          return out;
        },
        evaluate: async () => {
          const k = s.evalSamples;
          const pass = new Array(k).fill(0);
          const examples = Array.from({ length: evalProblems }, (_, i) => tasks.test.example(i));
          const perProblem = await sampleRows(examples.map(promptOf), k, 1_000_000);
          for (let i = 0; i < evalProblems; i++) {
            let c = 0;
            for (const x of perProblem[i]) if (await tasks.test.evaluate(examples[i], tok.decode(x.tokens))) c++;
            for (let j = 1; j <= k; j++) pass[j - 1] += passAtK(k, c, j);
          }
          const metrics: Record<string, number> = {};
          pass.forEach((v, j) => (metrics[`pass@${j + 1}`] = evalProblems ? v / evalProblems : 0));
          const shown = [1, Math.min(4, k), k].filter((j, i, a) => a.indexOf(j) === i).map((j) => `pass@${j} ${metrics[`pass@${j}`].toFixed(3)}`);
          return { metrics, line: `held-out ${tasks.test.name}: ${shown.join(", ")} (${evalProblems} problems × ${k} samples)` };
        },
        // Checkpoints fall between steps, when every sampled problem's passes are used.
        loaderState: () => ({ cursor }),
        close: () => engine.destroy(),
      });
    },
  });
}
