// Host wrappers for kernels/attention.wgsl: causal scaled-dot-product attention with
// grouped-query heads, flash style (online softmax forward, FlashAttention-2 backward that
// recomputes the probabilities from q, k and the saved log-sum-exp).
//
// Layouts (row-major float32, no transposes anywhere):
//   q, o, dO, dq : (B, T, H, hd)       — c_q's output (B·T, H·hd) viewed as heads
//   k, v, dk, dv : (B, Tk, Hkv, hd)    — forward only: (B, kvRows, Hkv, hd), rows < Tk used
//   lse, delta   : (B, H, T)           — lse = natural log of Σ_j exp(scale·q_i·k_j)
// Query head h reads kv head floor(h / (H/Hkv)). Query row i is at absolute position
// Tk − T + i and sees keys 0 … Tk − T + i (Tk = T, the default, is training's triangle).
//
// Memory is linear in T: besides the inputs and outputs, the forward keeps lse (B·H·T)
// and the backward one delta buffer (B·H·T); no T×T buffer exists, and the kernels only
// hold fixed-size tiles in workgroup memory.
import { adapterText, type Gpu, GpuError, isSoftwareAdapter } from "../gpu/device.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, shapeString, type Tensor } from "../gpu/tensor.ts";
import { grid1d, gridOp } from "../gpu/grid.ts";

export const ATTENTION_WGSL = new URL("../../kernels/attention.wgsl", import.meta.url);
/** Largest head dimension the kernels support (MAX_HD in the shader). */
export const ATTENTION_MAX_HD = 128;
/** Accumulators per thread in the shader (DPT): hd ≤ TD·DPT. */
const DIMS_PER_THREAD = 16;
const PREP_WG = 64;
/**
 * Workgroup-memory budget of the default tiles: 16 KiB (WebGPU's guaranteed minimum) on
 * hardware adapters; 8 KiB on SwiftShader, whose pipeline compile time grows with
 * workgroup memory (about 1 ms per float); the adapter's whole limit on lavapipe, where
 * bigger tiles run faster (hd=128, B·T=1,024: 16×16 tiles took 90/126/160 ms for
 * forward/dq/dkdv against 150/278/330 ms for the 4×4 tiles 8 KiB allows).
 */
const DEFAULT_BUDGET = 16384;
const SWIFTSHADER_BUDGET = 8192;

function defaultBudget(gpu: Gpu): number {
  const text = adapterText(gpu.info).toLowerCase();
  if (/swiftshader/.test(text)) return SWIFTSHADER_BUDGET;
  if (/llvmpipe|lavapipe/.test(text)) return gpu.limits.maxComputeWorkgroupStorageSize;
  return isSoftwareAdapter(gpu.info) ? SWIFTSHADER_BUDGET : DEFAULT_BUDGET;
}

/** Tiles hold rows of HDP floats: hd rounded up to a multiple of 32, so nearby hd share pipelines. */
export function attentionTileWidth(hd: number): number {
  return Math.min(ATTENTION_MAX_HD, Math.ceil(hd / 32) * 32);
}

export interface AttentionShape {
  B: number;
  /** Query rows per sequence. */
  T: number;
  /** Query heads (n_head). */
  H: number;
  /** Key/value heads (n_kv_head); divides H. */
  Hkv: number;
  /** Head dimension: even, ≤ 128. */
  hd: number;
  /** Key rows per sequence (≥ T); default T. Keys 0 … Tk−T+i are visible to query i. */
  Tk?: number;
  /** Forward only: rows per sequence in the k/v buffers (≥ Tk, e.g. a KV cache's capacity); default Tk. */
  kvRows?: number;
  /** Score scale; default 1/sqrt(hd) (SDPA's default, as nanochat). */
  scale?: number;
}

/**
 * Workgroup shape of one attention kernel: TD threads per row; BQ query rows and BK key
 * rows per tile (forward and dq own BQ query rows and stream BK-row key tiles; dkdv owns
 * BK key rows and streams BQ-row query tiles).
 */
export interface AttentionTile {
  TD: number;
  BQ: number;
  BK: number;
}

export interface AttentionOptions {
  label?: string;
  /**
   * Forward with T = 1 only: use the decode entry (keys spread over the workgroup) instead
   * of the query-tiled forward. Default: on whenever T = 1.
   */
  decode?: boolean;
  /** Fixes the tiles instead of choosing the largest that fits the budget. */
  tile?: Partial<AttentionTile>;
  /** Workgroup-memory budget for the chosen tiles (default 16 KiB; 8 KiB on SwiftShader, the adapter's limit on lavapipe), capped by the adapter's limit. */
  maxWorkgroupBytes?: number;
}

type AttentionKernel = "forward" | "dq" | "dkdv";

/** Bytes of workgroup memory one pipeline of `kernel` uses (mirrors the shader's tiles). */
export function attentionWorkgroupBytes(kernel: AttentionKernel, tile: AttentionTile, hd: number): number {
  const HS = attentionTileWidth(hd) + 1;
  const { BQ, BK } = tile;
  switch (kernel) {
    case "forward":
      return 4 * (BQ * HS + 2 * BK * HS + BQ * BK);
    case "dq":
      return 4 * (2 * BQ * HS + 2 * BK * HS + BQ * BK);
    case "dkdv":
      return 4 * (2 * BK * HS + 2 * BQ * HS + 2 * BK * BQ + 2 * BQ);
  }
}

// Preferred tiles first: [rows the workgroup owns, rows of the streamed tile].
const TILE_CANDIDATES: [number, number][] = [[32, 32], [32, 16], [16, 16], [16, 8], [8, 8], [8, 4], [4, 4], [4, 2], [2, 2], [1, 1]];

/** The tile a kernel uses for head dim `hd` on this adapter: the largest that fits the budget and the limits. */
export function chooseAttentionTile(
  gpu: Gpu, kernel: AttentionKernel, hd: number, fixed: Partial<AttentionTile> = {}, label = "attention", maxWorkgroupBytes?: number,
): AttentionTile {
  const lim = gpu.limits;
  const budget = Math.min(lim.maxComputeWorkgroupStorageSize, maxWorkgroupBytes ?? defaultBudget(gpu));
  const TD = fixed.TD ?? 8;
  if (!Number.isInteger(TD) || TD < 1 || TD * DIMS_PER_THREAD < hd) {
    throw new GpuError(`${label}: TD=${TD} threads per row cannot cover hd=${hd} (each thread holds at most ${DIMS_PER_THREAD} dims)`);
  }
  const fits = (t: AttentionTile) => {
    const rows = kernel === "dkdv" ? t.BK : t.BQ;
    return TD <= lim.maxComputeWorkgroupSizeX && rows <= lim.maxComputeWorkgroupSizeY &&
      TD * rows <= lim.maxComputeInvocationsPerWorkgroup &&
      attentionWorkgroupBytes(kernel, t, hd) <= (fixed.BQ !== undefined && fixed.BK !== undefined ? lim.maxComputeWorkgroupStorageSize : budget);
  };
  for (const [own, stream] of TILE_CANDIDATES) {
    const t: AttentionTile = kernel === "dkdv" ? { TD, BK: own, BQ: stream } : { TD, BQ: own, BK: stream };
    if (fixed.BQ !== undefined) t.BQ = fixed.BQ;
    if (fixed.BK !== undefined) t.BK = fixed.BK;
    if (fits(t)) return t;
  }
  const t = { TD, BQ: fixed.BQ ?? 1, BK: fixed.BK ?? 1 };
  throw new GpuError(
    `${label}: no ${kernel} tile fits this adapter for hd=${hd} (tile ${JSON.stringify(t)} needs ` +
      `${attentionWorkgroupBytes(kernel, t, hd)} bytes of workgroup memory; budget ${budget}, limit ${lim.maxComputeWorkgroupStorageSize})`,
  );
}

/** Useful FLOPs (causal pairs only): forward 4·hd per pair; backward 2.5× that (FlashAttention's convention). */
export function attentionFlops(shape: AttentionShape): { forward: number; backward: number } {
  const Tk = shape.Tk ?? shape.T;
  const pairs = shape.B * shape.H * (shape.T * (Tk - shape.T) + (shape.T * (shape.T + 1)) / 2);
  const forward = 4 * shape.hd * pairs;
  return { forward, backward: 2.5 * forward };
}

interface Resolved {
  B: number;
  T: number;
  H: number;
  Hkv: number;
  hd: number;
  Tk: number;
  kvRows: number;
  scale: number;
}

function describe(op: string, s: AttentionShape): string {
  const Tk = s.Tk ?? s.T;
  return `${op}(B=${s.B} T=${s.T}${Tk !== s.T ? ` Tk=${Tk}` : ""} H=${s.H} Hkv=${s.Hkv} hd=${s.hd})`;
}

function resolve(label: string, s: AttentionShape): Resolved {
  const { B, T, H, Hkv, hd } = s;
  const Tk = s.Tk ?? T;
  const kvRows = s.kvRows ?? Tk;
  for (const [name, val] of Object.entries({ B, T, H, Hkv, hd, Tk, kvRows })) {
    if (!Number.isInteger(val) || val < 1) throw new GpuError(`${label}: ${name} must be a positive integer, got ${val}`);
  }
  if (hd > ATTENTION_MAX_HD) throw new GpuError(`${label}: head dim ${hd} is over the kernel's maximum of ${ATTENTION_MAX_HD}`);
  if (hd % 2 !== 0) throw new GpuError(`${label}: head dim ${hd} must be even`);
  if (H % Hkv !== 0) throw new GpuError(`${label}: n_kv_head ${Hkv} must divide n_head ${H}`);
  if (Tk < T) throw new GpuError(`${label}: Tk ${Tk} must be ≥ T ${T}`);
  if (kvRows < Tk) throw new GpuError(`${label}: kvRows ${kvRows} must be ≥ Tk ${Tk}`);
  const scale = s.scale ?? 1 / Math.sqrt(hd);
  if (!Number.isFinite(scale)) throw new GpuError(`${label}: scale must be finite, got ${scale}`);
  return { B, T, H, Hkv, hd, Tk, kvRows, scale };
}

function expectTensor(label: string, name: string, t: Tensor, dims: Record<string, number>): void {
  const need = Object.values(dims).reduce((a, b) => a * b, 1);
  const layout = `(${Object.entries(dims).map(([k, v]) => `${k}=${v}`).join(", ")})`;
  if (t.dtype !== "f32") throw new GpuError(`${label}: ${name} ${t} must be f32`);
  if (t.size !== need) {
    throw new GpuError(`${label}: ${name} ${t} has ${t.size} elements; its layout ${layout} needs ${need} ${shapeString(Object.values(dims))}`);
  }
}

function params(r: Resolved) {
  return { B: r.B, T: r.T, Tk: r.Tk, kvRows: r.kvRows, H: r.H, Hkv: r.Hkv, hd: r.hd, scale: r.scale };
}

async function tiledKernel(gpu: Gpu, entry: string, kernel: AttentionKernel, hd: number, opts: AttentionOptions, label: string) {
  const tile = chooseAttentionTile(gpu, kernel, hd, opts.tile, label, opts.maxWorkgroupBytes);
  const k = await loadKernel(gpu, {
    url: ATTENTION_WGSL,
    entry,
    overrides: { TD: tile.TD, BQ: tile.BQ, BK: tile.BK, HDP: attentionTileWidth(hd) },
  });
  return { kernel: k, tile };
}

export interface AttentionForwardOp extends Op {
  /** Which entry point runs: the query-tiled forward or the T = 1 decode. */
  entry: "forward" | "decode";
  /** Query/key tiles of the forward entry; for decode, BK is the keys per chunk (DW). */
  tile: AttentionTile;
  workgroupBytes: number;
  flops: number;
  /** Changes the number of visible keys (a KV cache's length after this step) for the same buffers. */
  setKeyLength(Tk: number): void;
}

/** Threads per decode workgroup (= keys scored per chunk); hd ≤ 4·DECODE_WG. */
const DECODE_WG = 64;

/** o = softmax(scale·q·kᵀ + causal mask)·v and lse per query row, one dispatch. */
export async function attentionForwardOp(
  gpu: Gpu, t: { q: Tensor; k: Tensor; v: Tensor; o: Tensor; lse: Tensor }, shape: AttentionShape, opts: AttentionOptions = {},
): Promise<AttentionForwardOp> {
  const label = opts.label ?? describe("attention.forward", shape);
  let r = resolve(label, shape);
  expectTensor(label, "q", t.q, { B: r.B, T: r.T, H: r.H, hd: r.hd });
  expectTensor(label, "k", t.k, { B: r.B, [r.kvRows === r.Tk ? "Tk" : "kvRows"]: r.kvRows, Hkv: r.Hkv, hd: r.hd });
  expectTensor(label, "v", t.v, { B: r.B, [r.kvRows === r.Tk ? "Tk" : "kvRows"]: r.kvRows, Hkv: r.Hkv, hd: r.hd });
  expectTensor(label, "o", t.o, { B: r.B, T: r.T, H: r.H, hd: r.hd });
  expectTensor(label, "lse", t.lse, { B: r.B, H: r.H, T: r.T });
  if (opts.decode && r.T !== 1) throw new GpuError(`${label}: the decode entry handles one query row per sequence (T = 1), got T=${r.T}`);
  const decode = opts.decode ?? r.T === 1;
  const buffers = { q: t.q, k: t.k, v: t.v, o: t.o, lse: t.lse };
  let bound, tile: AttentionTile, grid: [number, number, number], workgroupBytes: number;
  if (decode) {
    const k = await loadKernel(gpu, { url: ATTENTION_WGSL, entry: "decode", overrides: { DW: DECODE_WG } });
    bound = k.bind(buffers, params(r), label);
    tile = { TD: 1, BQ: 1, BK: DECODE_WG };
    grid = [r.H, r.B, 1];
    workgroupBytes = 4 * (ATTENTION_MAX_HD + 2 * DECODE_WG);
  } else {
    const tiled = await tiledKernel(gpu, "forward", "forward", r.hd, opts, label);
    bound = tiled.kernel.bind(buffers, params(r), label);
    tile = tiled.tile;
    grid = [Math.ceil(r.T / tile.BQ), r.H, r.B];
    workgroupBytes = attentionWorkgroupBytes("forward", tile, r.hd);
  }
  return {
    ...gridOp(bound, grid, label),
    entry: decode ? "decode" : "forward",
    tile,
    workgroupBytes,
    get flops() {
      return attentionFlops({ ...shape, Tk: r.Tk }).forward;
    },
    setKeyLength(Tk: number) {
      r = resolve(label, { ...shape, Tk, kvRows: r.kvRows });
      bound.setParams(params(r));
    },
  };
}

/** The backward's ops (prep, dq, dkdv) plus the delta scratch they share. */
export type AttentionBackwardOps = Op[] & {
  /** (B, H, T) scratch: Σ_d dO·o per query row. */
  delta: Tensor;
  tiles: { dq: AttentionTile; dkdv: AttentionTile };
  flops: number;
  /** Destroys the delta scratch if this call created it (not one passed in). */
  destroy(): void;
};

/**
 * dq, dk, dv of causal GQA attention, written (not accumulated) by three dispatches:
 * backward_prep (delta = Σ dO·o), backward_dq, backward_dkdv. Deterministic (no atomics).
 * `delta` is an optional (B, H, T) float32 scratch; when it is absent the call creates one
 * and the returned array's destroy() frees it. k/v/dk/dv are (B, Tk, Hkv, hd).
 */
export async function attentionBackwardOps(
  gpu: Gpu,
  t: {
    q: Tensor; k: Tensor; v: Tensor; o: Tensor; lse: Tensor; dO: Tensor;
    dq: Tensor; dk: Tensor; dv: Tensor; delta?: Tensor;
  },
  shape: AttentionShape,
  opts: AttentionOptions = {},
): Promise<AttentionBackwardOps> {
  const label = opts.label ?? describe("attention.backward", shape);
  const r = resolve(label, shape);
  if (r.kvRows !== r.Tk) throw new GpuError(`${label}: kvRows (${r.kvRows}) must equal Tk (${r.Tk}) in the backward`);
  const qDims = { B: r.B, T: r.T, H: r.H, hd: r.hd };
  const kvDims = { B: r.B, Tk: r.Tk, Hkv: r.Hkv, hd: r.hd };
  const rowDims = { B: r.B, H: r.H, T: r.T };
  for (const n of ["q", "o", "dO", "dq"] as const) expectTensor(label, n, t[n], qDims);
  for (const n of ["k", "v", "dk", "dv"] as const) expectTensor(label, n, t[n], kvDims);
  expectTensor(label, "lse", t.lse, rowDims);
  if (t.delta) expectTensor(label, "delta", t.delta, rowDims);

  const prepKernel = await loadKernel(gpu, { url: ATTENTION_WGSL, entry: "backward_prep", overrides: { PREP_WG } });
  const dqK = await tiledKernel(gpu, "backward_dq", "dq", r.hd, opts, label);
  const dkdvK = await tiledKernel(gpu, "backward_dkdv", "dkdv", r.hd, opts, label);

  const ownDelta = !t.delta;
  const delta = t.delta ?? createTensor(gpu, [r.B, r.H, r.T], "f32", `${label}:delta`);
  const p = params(r);
  const rows = r.B * r.T * r.H;
  const ops = [
    gridOp(prepKernel.bind({ o: t.o, dO: t.dO, delta }, p, `${label}:prep`), grid1d(gpu, rows, PREP_WG, label), `${label}:prep`),
    gridOp(
      dqK.kernel.bind({ q: t.q, k: t.k, v: t.v, dO: t.dO, lse: t.lse, delta, dq: t.dq }, p, `${label}:dq`),
      [Math.ceil(r.T / dqK.tile.BQ), r.H, r.B],
      `${label}:dq`,
    ),
    gridOp(
      dkdvK.kernel.bind({ q: t.q, k: t.k, v: t.v, dO: t.dO, lse: t.lse, delta, dk: t.dk, dv: t.dv }, p, `${label}:dkdv`),
      [Math.ceil(r.Tk / dkdvK.tile.BK), r.Hkv, r.B],
      `${label}:dkdv`,
    ),
  ];
  return Object.assign(ops, {
    delta,
    tiles: { dq: dqK.tile, dkdv: dkdvK.tile },
    flops: attentionFlops(shape).backward,
    destroy() {
      if (ownDelta) delta.destroy();
    },
  });
}
