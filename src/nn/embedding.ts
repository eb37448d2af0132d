// Token embedding lookup and its deterministic backward — kernels/embedding.wgsl.
import type { Gpu } from "../gpu/device.ts";
import { type BoundKernel, loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { grid1d, gridOp, requireSize } from "../gpu/grid.ts";

export const EMBEDDING_WGSL = new URL("../../kernels/embedding.wgsl", import.meta.url);

/** N token positions looking up a V×C table. */
export interface EmbeddingShape {
  N: number;
  V: number;
  C: number;
}

/** out[n, :] = wte[idx[n], :] for N tokens (idx is u32 or i32 holding ids < V). */
export async function embeddingForwardOp(
  gpu: Gpu, t: { idx: Tensor; wte: Tensor; out: Tensor }, s: EmbeddingShape, opts: { label?: string } = {},
): Promise<Op> {
  const { N, V, C } = s;
  const name = `${opts.label ?? "embedding"}(N=${N} V=${V} C=${C})`;
  requireSize(name, "idx", t.idx, N);
  requireSize(name, "wte", t.wte, V * C);
  requireSize(name, "out", t.out, N * C);
  const k = await loadKernel(gpu, { url: EMBEDDING_WGSL, entry: "forward" });
  return gridOp(k.bind({ idx: t.idx, wte: t.wte, out: t.out }, { N, C, V, unique: 0 }, name), grid1d(gpu, N * C, 256, name));
}

/**
 * dwte[tok] += Σ dout[n] over positions holding tok. setTokens() regroups positions by
 * token on the host (the host already has the batch's ids) before each backward.
 */
export class EmbeddingBackward implements Op {
  readonly label: string;
  private tokens: Tensor;
  private offsets: Tensor;
  private positions: Tensor;
  private unique = 0;
  private bound!: BoundKernel;

  private constructor(private gpu: Gpu, readonly N: number, readonly V: number, readonly C: number, label: string) {
    this.label = `${label}.backward(N=${N} V=${V} C=${C})`;
    this.tokens = createTensor(gpu, [N], "u32", "emb.tokens");
    this.offsets = createTensor(gpu, [N + 1], "u32", "emb.offsets");
    this.positions = createTensor(gpu, [N], "u32", "emb.positions");
  }

  static async create(
    gpu: Gpu, t: { dout: Tensor; dwte: Tensor }, s: EmbeddingShape, opts: { label?: string } = {},
  ): Promise<EmbeddingBackward> {
    const { N, V, C } = s;
    const eb = new EmbeddingBackward(gpu, N, V, C, opts.label ?? "embedding");
    requireSize(eb.label, "dout", t.dout, N * C);
    requireSize(eb.label, "dwte", t.dwte, V * C);
    const k = await loadKernel(gpu, { url: EMBEDDING_WGSL, entry: "backward" });
    eb.bound = k.bind(
      { tokens: eb.tokens, offsets: eb.offsets, positions: eb.positions, dout: t.dout, dwte: t.dwte },
      { N, C, V, unique: 0 },
      eb.label,
    );
    return eb;
  }

  /** Groups the batch's positions by token id (ascending ids, ascending positions). */
  setTokens(ids: ArrayLike<number>): void {
    if (ids.length !== this.N) throw new RangeError(`${this.label}: got ${ids.length} ids`);
    const counts = new Map<number, number>();
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      if (!(id >= 0 && id < this.V)) throw new RangeError(`${this.label}: token id ${id} at position ${n} is outside the vocabulary (V=${this.V})`);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const uniq = [...counts.keys()].sort((a, b) => a - b);
    const offsets = new Uint32Array(uniq.length + 1);
    const slot = new Map<number, number>();
    uniq.forEach((tok, u) => {
      offsets[u + 1] = offsets[u] + counts.get(tok)!;
      slot.set(tok, offsets[u]);
    });
    const positions = new Uint32Array(ids.length);
    for (let n = 0; n < ids.length; n++) {
      const s = slot.get(ids[n])!;
      positions[s] = n;
      slot.set(ids[n], s + 1);
    }
    this.unique = uniq.length;
    writeTensor(this.tokens, Uint32Array.from(uniq));
    writeTensor(this.offsets, offsets);
    writeTensor(this.positions, positions);
    this.bound.setParams({ N: this.N, C: this.C, V: this.V, unique: this.unique });
  }

  record(pass: GPUComputePassEncoder): void {
    const [x, y] = grid1d(this.gpu, Math.max(1, this.unique) * this.C, 256, this.label);
    this.bound.dispatch(pass, x, y);
  }

  destroy(): void {
    for (const t of [this.tokens, this.offsets, this.positions]) t.destroy();
  }
}
