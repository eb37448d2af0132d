// Muon on the GPU (kernels/muon.wgsl + the matmul kernel): Nesterov momentum, quintic
// Newton–Schulz orthogonalisation in float32 (the reference uses bf16), the aspect-ratio
// scale, the update — all recorded into the step's pass, no readback.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import { type BoundKernel, loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, fillTensorBits, type Tensor } from "../gpu/tensor.ts";
import { grid1d, gridOp } from "../gpu/grid.ts";
import { matmulOp } from "../nn/matmul.ts";
import { axpbyOp, partialCount, sumOfSquaresOps } from "../nn/reduce.ts";

export const MUON_WGSL = new URL("../../kernels/muon.wgsl", import.meta.url);
/** Quintic Newton–Schulz coefficients of the reference (singular values → ~U(0.5, 1.5)). */
export const NS_COEFFS = { a: 3.4445, b: -4.775, c: 2.0315 };
export const NS_STEPS = 5;

export interface MuonParam {
  name: string;
  param: Tensor;
  grad: Tensor;
  lr: number;
}

interface Entry {
  name: string;
  rows: number;
  cols: number;
  lr: number;
  momentumBound: BoundKernel;
  updateBound: BoundKernel;
  /** Where this matrix's iterate starts in its batch's X buffers. */
  xOff: number;
}

/** Matrices of one m×n shape (m ≤ n: X is wide), by their index in the parameter list. */
export interface MuonBatch {
  m: number;
  n: number;
  members: number[];
}

/** Most floats one batch's X iterate may hold; larger groups of a shape are split. */
export const MUON_BATCH_FLOATS = 1 << 24;

/**
 * Matrices Newton–Schulz orthogonalises together: those of one shape (m×n after the
 * transpose that makes X wide), in parameter order, at most MUON_BATCH_FLOATS of X per
 * batch. One batched product per stage instead of one per matrix: far fewer dispatches,
 * and bigger ones (as the reference's distributed Muon groups parameters by shape).
 */
export function muonBatches(shapes: readonly (readonly [number, number])[]): MuonBatch[] {
  const batches: MuonBatch[] = [];
  const open = new Map<string, MuonBatch>();
  shapes.forEach(([r, c], i) => {
    const m = Math.min(r, c), n = Math.max(r, c), key = `${m}x${n}`;
    let b = open.get(key);
    if (!b || (b.members.length + 1) * m * n > MUON_BATCH_FLOATS) {
      b = { m, n, members: [] };
      batches.push(b);
      open.set(key, b);
    }
    b.members.push(i);
  });
  return batches;
}

/**
 * Floats of each Newton–Schulz scratch buffer Muon allocates for matrices of these shapes:
 * two X iterates and A and B (the m×m Gram matrices) for the largest batch, the
 * Frobenius-norm partials (of one matrix) and its result.
 */
export function muonScratchSizes(shapes: readonly (readonly [number, number])[]): { X: number; A: number; partials: number; normSq: number } {
  let X = 1, A = 1, one = 1;
  for (const b of muonBatches(shapes)) {
    X = Math.max(X, b.members.length * b.m * b.n);
    A = Math.max(A, b.members.length * b.m * b.m);
    one = Math.max(one, b.m * b.n);
  }
  return { X, A, partials: partialCount(one), normSq: 4 };
}

export class Muon {
  readonly ops: Op[] = [];
  readonly state = new Map<string, { momentum: Tensor }>();
  private entries: Entry[] = [];
  private scratch: Tensor[] = [];
  step = 0;

  static async create(gpu: Gpu, params: MuonParam[], gradScale: Tensor): Promise<Muon> {
    const opt = new Muon();
    for (const p of params) {
      if (p.param.shape.length !== 2) throw new GpuError(`Muon: ${p.name} is not 2-D (${p.param.shape.join("×")}); use AdamW for it`);
    }
    const shapes = params.map((p) => p.param.shape as [number, number]);
    const sizes = muonScratchSizes(shapes);
    const mk = (n: number, label: string) => {
      const t = createTensor(gpu, [n], "f32", label);
      opt.scratch.push(t);
      return t;
    };
    const X = [mk(sizes.X, "muon.X0"), mk(sizes.X, "muon.X1")];
    const A = mk(sizes.A, "muon.A"), Bm = mk(sizes.A, "muon.B");
    const partials = mk(sizes.partials, "muon.partials"), normSq = mk(sizes.normSq, "muon.norm_sq");
    const kMomentum = await loadKernel(gpu, { url: MUON_WGSL, entry: "momentum" });
    const kNormalize = await loadKernel(gpu, { url: MUON_WGSL, entry: "normalize" });
    const kUpdate = await loadKernel(gpu, { url: MUON_WGSL, entry: "update" });
    const { a, b, c } = NS_COEFFS;

    for (const batch of muonBatches(shapes)) {
      const { m, n } = batch, G = batch.members.length;
      const updates: Op[] = [];
      for (const [g, i] of batch.members.entries()) {
        const p = params[i];
        const [rows, cols] = p.param.shape;
        const transposed = rows > cols;
        const size = rows * cols, xOff = g * m * n;
        const grid = grid1d(gpu, size, 256, p.name);
        const momentum = createTensor(gpu, p.param.shape, "f32", `muon.momentum:${p.name}`);
        fillTensorBits(momentum, 0);
        opt.state.set(p.name, { momentum });
        const u = (mu: number, scale: number) => ({ rows, cols, transposed: transposed ? 1 : 0, momentum: mu, scale, x_off: xOff });
        const L = `muon ${p.name}`;
        const momentumBound = kMomentum.bind({ g: p.grad, buf: momentum, x: X[0], grad_scale: gradScale }, u(0.85, 0), `${L}.momentum`);
        opt.ops.push(gridOp(momentumBound, grid));
        opt.ops.push(...await sumOfSquaresOps(gpu, { x: X[0], partials, out: normSq }, { n: size, xOff }, { label: `${L}.frobenius` }));
        opt.ops.push(gridOp(kNormalize.bind({ x: X[0], norm_sq: normSq }, u(0, 0), `${L}.normalize`), grid));
        const updateBound = kUpdate.bind({ p: p.param, x: X[NS_STEPS % 2] }, u(0, 0), `${L}.update`);
        updates.push(gridOp(updateBound, grid));
        opt.entries.push({ name: p.name, rows, cols, lr: p.lr, momentumBound, updateBound, xOff });
      }
      const L = `muon ${G > 1 ? `${G}×` : ""}${params[batch.members[0]].name}${G > 1 ? "…" : ""}`;
      const batched = { batch: G };
      for (let s = 0; s < NS_STEPS; s++) {
        const xIn = X[s % 2], xOut = X[(s + 1) % 2];
        const tag = `${L}.ns${s}`;
        opt.ops.push(await matmulOp(gpu, { a: xIn, b: xIn, c: A }, { M: m, N: m, K: n }, { ...batched, transB: true, label: `${tag} A=XXᵀ` }));
        opt.ops.push(await matmulOp(gpu, { a: A, b: A, c: Bm }, { M: m, N: m, K: m }, { ...batched, alpha: c, label: `${tag} B=c·AA` }));
        opt.ops.push(await axpbyOp(gpu, { x: A, y: Bm }, { n: G * m * m }, { alpha: b, beta: 1, label: `${tag} B+=b·A` }));
        opt.ops.push(await matmulOp(gpu, { a: Bm, b: xIn, c: xOut }, { M: m, N: n, K: m }, { ...batched, label: `${tag} BX` }));
        opt.ops.push(await axpbyOp(gpu, { x: xIn, y: xOut }, { n: G * m * n }, { alpha: a, beta: 1, label: `${tag} X=aX+BX` }));
      }
      opt.ops.push(...updates);
    }
    return opt;
  }

  /** Before recording `ops`: momentum μ for this step and lr = base·lrMultiplier. */
  prepareStep(lrMultiplier: number, momentum: number): void {
    this.step += 1;
    for (const e of this.entries) {
      const base = { rows: e.rows, cols: e.cols, transposed: e.rows > e.cols ? 1 : 0, x_off: e.xOff };
      e.momentumBound.setParams({ ...base, momentum, scale: 0 });
      e.updateBound.setParams({ ...base, momentum, scale: e.lr * lrMultiplier * Math.sqrt(Math.max(1, e.rows / e.cols)) });
    }
  }

  destroy(): void {
    for (const t of this.scratch) t.destroy();
    for (const s of this.state.values()) s.momentum.destroy();
  }
}
