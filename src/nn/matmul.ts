// Host wrapper for kernels/matmul.wgsl:  C = alpha · op(A) · op(B)  [+ C].
// Shapes are checked here against the tensors' sizes; the kernel itself trusts them.
import { type Gpu, GpuError } from "../gpu/device.ts";
import { type BoundKernel, loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";

export const MATMUL_WGSL = new URL("../../kernels/matmul.wgsl", import.meta.url);

export interface MatmulOptions {
  /** A is stored K×M (per batch) and used transposed. */
  transA?: boolean;
  /** B is stored N×K (per batch) and used transposed — a linear layer's x·Wᵀ. */
  transB?: boolean;
  /** C += alpha·op(A)·op(B) instead of C = ... (gradient accumulation). */
  accumulate?: boolean;
  alpha?: number;
  batch?: number;
  /** Element strides between batches; default: packed matrices. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /** Row strides of the stored matrices; default: packed rows. */
  lda?: number;
  ldb?: number;
  ldc?: number;
  offA?: number;
  offB?: number;
  offC?: number;
  /** Use the one-thread-per-output baseline kernel (benchmarks only). */
  naive?: boolean;
  /**
   * Use the skinny kernel (a workgroup per output column, threads splitting K). Default:
   * on when M ≤ 8 at creation (decode steps), where 64-row tiles would waste most work.
   */
  skinny?: boolean;
  /** Tile shape overrides: workgroup WG_X×WG_Y threads, K-step BK (each thread does 8×8 outputs). */
  tile?: { WG_X?: number; WG_Y?: number; BK?: number };
  label?: string;
}

/** Largest M for which matmulOp picks the skinny kernel by default, and its workgroup size. */
export const SKINNY_MAX_M = 8;
/** Outputs per thread along each side in the tiled kernel (TM = TN in matmul.wgsl). */
const TILE_PER_THREAD = 8;
const SKINNY_THREADS = 64;

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
}

export interface MatmulOp extends Op {
  bound: BoundKernel;
  flops: number;
  /** Changes M/N/K/alpha/offsets of an existing binding (same buffers). */
  update(shape: MatmulShape, opts?: MatmulOptions): void;
}

function resolve(shape: MatmulShape, o: MatmulOptions) {
  const { M, N, K } = shape;
  const lda = o.lda ?? (o.transA ? M : K);
  const ldb = o.ldb ?? (o.transB ? K : N);
  const ldc = o.ldc ?? N;
  const batch = o.batch ?? 1;
  return {
    batch,
    params: {
      M, N, K, lda, ldb, ldc,
      strideA: o.strideA ?? M * K,
      strideB: o.strideB ?? K * N,
      strideC: o.strideC ?? M * N,
      offA: o.offA ?? 0,
      offB: o.offB ?? 0,
      offC: o.offC ?? 0,
      alpha: o.alpha ?? 1,
    },
  };
}

/** Last element index (exclusive) a stored matrix with `rows`×`cols` at these strides touches. */
function extent(off: number, stride: number, batch: number, rows: number, cols: number, ld: number): number {
  if (rows === 0 || cols === 0) return off;
  return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

function checkShapes(label: string, a: Tensor, b: Tensor, c: Tensor, shape: MatmulShape, o: MatmulOptions) {
  const { M, N, K } = shape;
  for (const [k, v] of Object.entries({ M, N, K })) {
    if (!Number.isInteger(v) || v < 1) throw new GpuError(`${label}: ${k} must be a positive integer, got ${v}`);
  }
  const { batch, params: p } = resolve(shape, o);
  const [aRows, aCols] = o.transA ? [K, M] : [M, K];
  const [bRows, bCols] = o.transB ? [N, K] : [K, N];
  if (p.lda < aCols || p.ldb < bCols || p.ldc < N) {
    throw new GpuError(`${label}: a row stride is smaller than its row (lda ${p.lda}, ldb ${p.ldb}, ldc ${p.ldc})`);
  }
  const need: [string, Tensor, number][] = [
    ["A", a, extent(p.offA, p.strideA, batch, aRows, aCols, p.lda)],
    ["B", b, extent(p.offB, p.strideB, batch, bRows, bCols, p.ldb)],
    ["C", c, extent(p.offC, p.strideC, batch, M, N, p.ldc)],
  ];
  for (const [name, t, n] of need) {
    if (t.dtype !== "f32") throw new GpuError(`${label}: ${name} must be f32, got ${t.dtype}`);
    if (n > t.size) {
      throw new GpuError(`${label}: ${name} ${t} holds ${t.size} elements but M=${M} N=${N} K=${K} batch=${batch} needs ${n}`);
    }
  }
}

function describe(shape: MatmulShape, o: MatmulOptions): string {
  const kind = `${o.transA ? "Aᵀ" : "A"}·${o.transB ? "Bᵀ" : "B"}${o.accumulate ? "+C" : ""}`;
  return `${o.label ?? "matmul"}(${kind} M=${shape.M} N=${shape.N} K=${shape.K}${(o.batch ?? 1) > 1 ? ` batch=${o.batch}` : ""})`;
}

/** Compiles (once) and binds a matmul; record the returned op into passes as often as needed. */
export async function matmulOp(
  gpu: Gpu, t: { a: Tensor; b: Tensor; c: Tensor }, shape: MatmulShape, opts: MatmulOptions = {},
): Promise<MatmulOp> {
  const { a, b, c } = t;
  let label = describe(shape, opts);
  checkShapes(label, a, b, c, shape, opts);
  const WG_X = opts.tile?.WG_X ?? 8, WG_Y = opts.tile?.WG_Y ?? 8, BK = opts.tile?.BK ?? 16;
  const flags = { TRANS_A: !!opts.transA, TRANS_B: !!opts.transB, ACCUMULATE: !!opts.accumulate };
  const skinny = !opts.naive && (opts.skinny ?? (shape.M <= SKINNY_MAX_M && !opts.tile));
  const kernel = await loadKernel(gpu, {
    url: MATMUL_WGSL,
    entry: opts.naive ? "naive" : skinny ? "skinny" : "main",
    overrides: opts.naive ? flags : skinny ? { ...flags, SW: SKINNY_THREADS } : { ...flags, WG_X, WG_Y, BK },
  });
  let { batch, params } = resolve(shape, opts);
  const bound = kernel.bind({ a, b, c }, params, label);
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  const grid = () => {
    if (skinny) {
      const x = Math.min(params.N, maxGroups);
      return [x, Math.ceil(params.N / x), batch] as const;
    }
    const [bm, bn] = opts.naive ? [16, 16] : [WG_Y * TILE_PER_THREAD, WG_X * TILE_PER_THREAD];
    return [Math.ceil(params.N / bn), Math.ceil(params.M / bm), batch] as const;
  };
  let flops = 2 * shape.M * shape.N * shape.K * batch;
  const op: MatmulOp = {
    get label() {
      return label;
    },
    bound,
    get flops() {
      return flops;
    },
    record(pass) {
      const [x, y, z] = grid();
      bound.dispatch(pass, x, y, z);
    },
    update(newShape, newOpts = opts) {
      if (!!newOpts.transA !== !!opts.transA || !!newOpts.transB !== !!opts.transB || !!newOpts.accumulate !== !!opts.accumulate) {
        throw new GpuError(`${label}: update() cannot change transA/transB/accumulate; make a new op`);
      }
      label = describe(newShape, newOpts);
      checkShapes(label, a, b, c, newShape, newOpts);
      ({ batch, params } = resolve(newShape, newOpts));
      flops = 2 * newShape.M * newShape.N * newShape.K * batch;
      bound.setParams(params);
    },
  };
  return op;
}
