// Rotary embedding in place on (B·T, heads, hd) — kernels/rotary.wgsl. The backward is
// the same kernel with the inverse rotation, applied to the gradient.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { grid1d, gridOp, requireSize } from "./grid.ts";

export const ROTARY_WGSL = new URL("../../kernels/rotary.wgsl", import.meta.url);

export interface RotaryShape {
  B: number;
  T: number;
  heads: number;
  hd: number;
  /** Position of the first row of each sequence (the KV-cache length when decoding). */
  posOffset?: number;
}

export interface RotaryOp extends Op {
  /** Moves the first row's position (a KV cache's length when decoding) for the same buffers. */
  setPosOffset(pos: number): void;
}

/** cos/sin are (positions, hd/2) tensors. inverse=true rotates back (the backward). */
export async function rotaryOp(
  gpu: Gpu, x: Tensor, tables: { cos: Tensor; sin: Tensor }, s: RotaryShape, inverse = false, label = "rotary",
): Promise<RotaryOp> {
  const { B, T, heads, hd } = s;
  const pos0 = s.posOffset ?? 0;
  const name = `${label}${inverse ? ".backward" : ""}(B=${B} T=${T} heads=${heads} hd=${hd}${pos0 ? ` pos=${pos0}` : ""})`;
  if (hd % 2 !== 0) throw new GpuError(`${name}: head_dim must be even for rotary embeddings`);
  requireSize(name, "x", x, B * T * heads * hd);
  const checkTables = (pos: number) => {
    if (!Number.isInteger(pos) || pos < 0) throw new GpuError(`${name}: position offset must be a non-negative integer, got ${pos}`);
    requireSize(`${name} at position ${pos}`, "cos", tables.cos, (pos + T) * (hd / 2));
    requireSize(`${name} at position ${pos}`, "sin", tables.sin, (pos + T) * (hd / 2));
  };
  checkTables(pos0);
  const k = await loadKernel(gpu, { url: ROTARY_WGSL, entry: "rotate", overrides: { INVERSE: inverse } });
  const bound = k.bind({ x, cos_table: tables.cos, sin_table: tables.sin }, { rows: B * T, T, heads, hd, pos_offset: pos0 }, name);
  return {
    ...gridOp(bound, grid1d(gpu, B * T * heads * (hd / 2), 64, name)),
    setPosOffset(pos: number) {
      checkTables(pos);
      bound.setParams({ rows: B * T, T, heads, hd, pos_offset: pos });
    },
  };
}
