// Bits per byte (nanochat's loss_eval): the summed cross-entropy (nats) of every target
// that decodes to bytes, divided by ln 2 · the bytes those targets stand for. Special
// tokens (0 bytes) and ignored targets (−1) count in neither sum, so the number does not
// depend on the tokenizer's vocabulary and can compare models with different tokenizers.
import type { GPT } from "../model/gpt.ts";

export interface BpbBatch {
  inputs: Int32Array;
  targets: Int32Array;
}

export interface BpbResult {
  bpb: number;
  /** Mean loss (nats/token) over the counted targets. */
  loss: number;
  tokens: number;
  bytes: number;
}

/** Accumulates per-row losses and byte counts over batches. */
export class BpbAccumulator {
  private nats = 0;
  private bytes = 0;
  private tokens = 0;

  constructor(private tokenBytes: Int32Array) {}

  add(rowLosses: ArrayLike<number>, targets: ArrayLike<number>): void {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      if (t < 0) continue;
      const b = this.tokenBytes[t];
      if (b <= 0) continue;
      this.nats += rowLosses[i];
      this.bytes += b;
      this.tokens += 1;
    }
  }

  result(): BpbResult {
    return {
      bpb: this.bytes > 0 ? this.nats / (Math.LN2 * this.bytes) : NaN,
      loss: this.tokens > 0 ? this.nats / this.tokens : NaN,
      tokens: this.tokens,
      bytes: this.bytes,
    };
  }
}

/** Runs the model forward over `batches` (no gradients) and returns the bits per byte. */
export async function evaluateBpb(model: GPT, batches: Iterable<BpbBatch> | AsyncIterable<BpbBatch>, tokenBytes: Int32Array): Promise<BpbResult> {
  const acc = new BpbAccumulator(tokenBytes);
  for await (const batch of batches) {
    await model.forward(batch.inputs, batch.targets);
    acc.add(await model.readRowLosses(), batch.targets);
  }
  return acc.result();
}

/** A source of batches that can be closed, such as the data loader. */
export interface BpbLoader {
  next(): Promise<BpbBatch | null>;
  close(): void;
}

/** Bits per byte over the first `steps` batches of `loader` (fewer if it runs out); closes it. */
export async function evaluateBpbOnLoader(model: GPT, loader: BpbLoader, steps: number, tokenBytes: Int32Array): Promise<BpbResult> {
  async function* take() {
    for (let i = 0; i < steps; i++) {
      const b = await loader.next();
      if (!b) return;
      yield b;
    }
  }
  try {
    return await evaluateBpb(model, take(), tokenBytes);
  } finally {
    loader.close();
  }
}
