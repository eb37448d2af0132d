// lm_head + logit softcap + cross-entropy, fused and chunked over rows —
// kernels/cross_entropy.wgsl with kernels/matmul.wgsl.
//
// For each chunk of R rows of the final hidden states x (N×C):
//   logits = x[chunk]·Wᵀ (R×V)  →  loss rows + dlogits in place  →
//   dx[chunk] = dlogits·W  and  dW += dlogitsᵀ·x[chunk]
// so the only vocab-sized buffer is R×V, whatever N is. Loss = Σ loss rows / #supervised.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import { type BoundKernel, loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { grid1d, gridOp, requireSize } from "../gpu/grid.ts";
import { matmulOp } from "./matmul.ts";

export const CROSS_ENTROPY_WGSL = new URL("../../kernels/cross_entropy.wgsl", import.meta.url);
export const SOFTCAP = 15;
/** Budget for one chunk of logits; keeps memory flat in B·T. */
const DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024;

export interface LmHeadLossTensors {
  /** Final normed hidden states, N×C. */
  x: Tensor;
  /** lm_head weight, V×C (out, in). */
  w: Tensor;
  /** Targets, N int32; −1 = not supervised. */
  targets: Tensor;
  /** Per-row weights of the loss and its gradient, N (RL's advantages); default: all 1 (a buffer this op owns). */
  weights?: Tensor;
  /** Per-row losses, N (0 for unsupervised rows). */
  losses: Tensor;
  /** Mean loss over supervised rows, 1 element. */
  loss: Tensor;
  /** With gradients: dx (N×C, overwritten) and dW (V×C, accumulated into). */
  dx?: Tensor;
  dw?: Tensor;
}

export class LmHeadLoss {
  /** The loss only: per chunk lm_head, softcap + cross-entropy; then the mean. */
  readonly lossOps: Op[] = [];
  /** With dx and dw: per chunk also the logits' gradient, dx and dW (empty without them). */
  readonly trainOps: Op[] = [];
  readonly chunkRows: number;
  private ceBounds: BoundKernel[] = [];
  private sumBound!: BoundKernel;
  private chunkParams: { rows: number; V: number; target_offset: number; loss_offset: number; cap: number }[] = [];

  private ownWeights: Tensor | null = null;

  private constructor(readonly gpu: Gpu, readonly N: number, readonly C: number, readonly V: number, readonly logits: Tensor, chunkRows: number) {
    this.chunkRows = chunkRows;
  }

  static async create(
    gpu: Gpu, t: LmHeadLossTensors, shape: { N: number; C: number; V: number },
    opts: { chunkRows?: number; cap?: number } = {},
  ): Promise<LmHeadLoss> {
    const { N, C, V } = shape;
    const name = `lm_head+softcap+cross_entropy(N=${N} C=${C} V=${V})`;
    requireSize(name, "x", t.x, N * C);
    requireSize(name, "w", t.w, V * C);
    requireSize(name, "targets", t.targets, N);
    requireSize(name, "losses", t.losses, N);
    requireSize(name, "loss", t.loss, 1);
    if (t.dx) requireSize(name, "dx", t.dx, N * C);
    if (t.dw) requireSize(name, "dw", t.dw, V * C);
    if (t.weights) requireSize(name, "weights", t.weights, N);
    if (!!t.dx !== !!t.dw) throw new GpuError(`${name}: pass both dx and dw, or neither`);
    const R = lossChunkRows({ N, V }, gpu.limits.maxStorageBufferBindingSize, opts.chunkRows);
    const logits = createTensor(gpu, [R, V], "f32", "lm_head.logits_chunk");
    const self = new LmHeadLoss(gpu, N, C, V, logits, R);
    let weights = t.weights;
    if (!weights) {
      weights = self.ownWeights = createTensor(gpu, [N], "f32", "lm_head.row_weights");
      writeTensor(weights, new Float32Array(N).fill(1));
    }
    const withGrad = !!t.dx;
    const ceLoss = await loadKernel(gpu, { url: CROSS_ENTROPY_WGSL, entry: "softcap_cross_entropy", overrides: { WRITE_GRAD: false } });
    const ceGrad = withGrad ? await loadKernel(gpu, { url: CROSS_ENTROPY_WGSL, entry: "softcap_cross_entropy", overrides: { WRITE_GRAD: true } }) : null;
    for (let r0 = 0; r0 < N; r0 += R) {
      const rows = Math.min(R, N - r0);
      const chunk = `${name} rows ${r0}..${r0 + rows}`;
      const head = await matmulOp(gpu, { a: t.x, b: t.w, c: logits }, { M: rows, N: V, K: C }, { transB: true, offA: r0 * C, label: "lm_head" });
      const params = { rows, V, target_offset: r0, loss_offset: r0, cap: opts.cap ?? SOFTCAP };
      const buffers = { logits, targets: t.targets, losses: t.losses, weights };
      const lossBound = ceLoss.bind(buffers, { ...params, grad_scale: 0 }, chunk);
      self.ceBounds.push(lossBound);
      self.chunkParams.push(params);
      self.lossOps.push(head, gridOp(lossBound, grid1d(gpu, rows, 1, chunk)));
      if (ceGrad) {
        const gradBound = ceGrad.bind(buffers, { ...params, grad_scale: 0 }, `${chunk} (with gradient)`);
        self.ceBounds.push(gradBound);
        self.chunkParams.push(params);
        self.trainOps.push(head, gridOp(gradBound, grid1d(gpu, rows, 1, chunk)));
        self.trainOps.push(await matmulOp(gpu, { a: logits, b: t.w, c: t.dx! }, { M: rows, N: C, K: V }, { offC: r0 * C, label: "lm_head.dx" }));
        self.trainOps.push(
          await matmulOp(gpu, { a: logits, b: t.x, c: t.dw! }, { M: V, N: C, K: rows }, { transA: true, accumulate: true, offB: r0 * C, label: "lm_head.dW" }),
        );
      }
    }
    const sum = await loadKernel(gpu, { url: CROSS_ENTROPY_WGSL, entry: "sum" });
    self.sumBound = sum.bind({ values: t.losses, total: t.loss }, { n: N, scale: 0 }, `${name}.mean`);
    const mean = gridOp(self.sumBound, [1, 1]);
    self.lossOps.push(mean);
    if (withGrad) self.trainOps.push(mean);
    return self;
  }

  /** The number of supervised targets in the batch (targets ≥ 0): the loss divides by it. */
  setSupervisedCount(count: number, gradScale = 1): void {
    const inv = count > 0 ? 1 / count : 0;
    this.ceBounds.forEach((b, i) => b.setParams({ ...this.chunkParams[i], grad_scale: inv * gradScale }));
    this.sumBound.setParams({ n: this.N, scale: inv });
  }

  destroy(): void {
    this.logits.destroy();
    this.ownWeights?.destroy();
  }
}

/**
 * Rows per logits chunk: `requested` if given, else as many as fit a 32 MiB budget (or
 * the adapter's binding limit, when smaller); at least 1, at most N.
 */
export function lossChunkRows(s: { N: number; V: number }, maxBindingBytes: number, requested?: number): number {
  const budget = Math.min(DEFAULT_CHUNK_BYTES, maxBindingBytes);
  return Math.max(1, Math.min(s.N, requested ?? Math.floor(budget / (s.V * 4))));
}

/** logits ← cap·tanh(logits / cap) in place over rows×V logits (inference). */
export async function softcapOp(
  gpu: Gpu, t: { logits: Tensor }, s: { rows: number; V: number }, opts: { cap?: number; label?: string } = {},
): Promise<Op> {
  const { rows, V } = s, { logits } = t, cap = opts.cap ?? SOFTCAP;
  const name = `${opts.label ?? "softcap"}(rows=${rows} V=${V})`;
  requireSize(name, "logits", logits, rows * V);
  const k = await loadKernel(gpu, { url: CROSS_ENTROPY_WGSL, entry: "softcap" });
  const bound = k.bind({ logits }, { rows, V, target_offset: 0, loss_offset: 0, cap, grad_scale: 0 }, name);
  return gridOp(bound, grid1d(gpu, rows * V, 256, name));
}
