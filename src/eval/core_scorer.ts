// CORE's model side: for token rows (each at most the model's context), each row's
// per-position loss or greedy prediction, B rows per forward.
//
//   losses  (multiple choice, schema) — the training forward (GPT) with targets = the next
//           tokens: loss[t] = −log p(token t+1 | ≤ t) comes back as the per-row losses,
//           N floats per forward, no logits read back.
//   argmax  (language modelling) — the same trunk (InferenceGPT over the GPT's weights),
//           then lm_head on the continuation's positions only, read back and argmaxed
//           here: a few vocabulary rows per item instead of B·T.
// Rows are right-padded with BOS to the full context (T = sequence_len): attention is
// causal, so padding after a row changes nothing before it.
import type { Gpu } from "../gpu/device.ts";
import { runOps } from "../gpu/kernel.ts";
import { readF32 } from "../gpu/tensor.ts";
import type { GPTConfig } from "../model/config.ts";
import { GPT } from "../model/gpt.ts";
import { InferenceGPT } from "../model/inference.ts";
import type { RowForward } from "./core.ts";

/** A row and the [start, end) span of its continuation (the positions whose predictions count). */
export interface ScoredRow {
  tokens: readonly number[];
  start: number;
  end: number;
}

export class CoreScorer {
  private greedy: InferenceGPT | null = null;

  private constructor(readonly gpu: Gpu, readonly model: GPT, readonly pad: number) {}

  /** A scorer of B rows per forward over weights by nanochat name; `pad` fills rows to the context (BOS). */
  static async create(gpu: Gpu, cfg: GPTConfig, params: Map<string, Float32Array>, opts: { B: number; pad: number }): Promise<CoreScorer> {
    const model = await GPT.create(gpu, cfg, { B: opts.B, T: cfg.sequence_len });
    model.loadParams(params);
    return new CoreScorer(gpu, model, opts.pad);
  }

  get rowsPerForward(): number {
    return this.model.B;
  }

  get contextLength(): number {
    return this.model.T;
  }

  /** Inputs (padded) and next-token targets (−1 past each row's end) of up to B rows. */
  private pack(rows: readonly ScoredRow[]): { inputs: Int32Array; targets: Int32Array } {
    const { B, T } = this.model;
    const inputs = new Int32Array(B * T).fill(this.pad), targets = new Int32Array(B * T).fill(-1);
    rows.forEach((r, b) => {
      if (r.tokens.length > T) throw new RangeError(`CoreScorer: a row of ${r.tokens.length} tokens is longer than the context (${T}); crop it first`);
      inputs.set(r.tokens, b * T);
      targets.set(r.tokens.slice(1), b * T);
    });
    return { inputs, targets };
  }

  /** Per-position losses of each row: loss[t] predicts token t+1 (argmax left empty). */
  async losses(rows: readonly ScoredRow[]): Promise<RowForward[]> {
    const { B, T } = this.model, out: RowForward[] = [];
    for (let i = 0; i < rows.length; i += B) {
      const chunk = rows.slice(i, i + B);
      const { inputs, targets } = this.pack(chunk);
      await this.model.forward(inputs, targets);
      const losses = await this.model.readRowLosses();
      chunk.forEach((r, b) => out.push({ loss: losses.slice(b * T, b * T + r.tokens.length - 1), argmax: [] }));
    }
    return out;
  }

  /**
   * Greedy predictions at each row's continuation: argmax[t] for t in [start − 1, end − 1)
   * (−1 elsewhere; the first of equal logits, as torch.argmax); losses left empty.
   */
  async argmax(rows: readonly ScoredRow[]): Promise<RowForward[]> {
    const { B, T } = this.model, V = this.model.cfg.vocab_size;
    this.greedy ??= await InferenceGPT.create(this.gpu, this.model.cfg, this.model.params, { B, T });
    const g = this.greedy, out: RowForward[] = [];
    for (let i = 0; i < rows.length; i += B) {
      const chunk = rows.slice(i, i + B);
      g.setInputs(this.pack(chunk).inputs);
      await runOps(this.gpu, g.forwardOps, "CORE forward");
      for (const [b, r] of chunk.entries()) {
        if (!(r.start >= 1 && r.end <= r.tokens.length && r.start < r.end)) throw new RangeError(`CoreScorer: continuation [${r.start}, ${r.end}) of a ${r.tokens.length}-token row`);
        const argmax = new Int32Array(r.tokens.length).fill(-1);
        for (let t0 = r.start - 1; t0 < r.end - 1; t0 += B) {
          const count = Math.min(B, r.end - 1 - t0);
          const head = await g.rowLogitsOps(b * T + t0, count);
          await runOps(this.gpu, head.ops, "CORE logits");
          const logits = await readF32(head.out);
          for (let k = 0; k < count; k++) argmax[t0 + k] = argmaxOf(logits, k * V, V);
        }
        out.push({ loss: [], argmax });
      }
    }
    return out;
  }

  destroy(): void {
    this.greedy?.destroy();
    this.model.destroy();
  }
}

/** Index of the largest of values[off … off+n) relative to off; the first of equals. */
export function argmaxOf(values: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (values[off + i] > values[off + best]) best = i;
  return best;
}
