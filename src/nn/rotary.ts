// Rotary embedding in place on (B·T, heads, hd) — kernels/rotary.wgsl. The backward is
// the same kernel with the inverse rotation, applied to the gradient.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import { grid1d, gridOp, requireSize } from "../gpu/grid.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";

export const ROTARY_WGSL = new URL("../../kernels/rotary.wgsl", import.meta.url);

export interface RotaryShape {
  B: number;
  T: number;
  heads: number;
  hd: number;
  /** Position of the first row of each sequence (the KV-cache length when decoding). */
  posOffset?: number;
}

/** cos/sin tables, (positions, hd/2) each. */
export interface RotaryTables {
  cos: Tensor;
  sin: Tensor;
}

export interface RotaryOp extends Op {
  /** Moves the first row's position (a KV cache's length when decoding) for the same buffers. */
  setPosOffset(pos: number): void;
}

async function rotate(gpu: Gpu, x: Tensor, tables: RotaryTables, s: RotaryShape, inverse: boolean, label: string): Promise<RotaryOp> {
  const { B, T, heads, hd } = s;
  const pos0 = s.posOffset ?? 0;
  const name = `${label}(B=${B} T=${T} heads=${heads} hd=${hd}${pos0 ? ` pos=${pos0}` : ""})`;
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

/** x ← rotate(x) in place: each (even, odd) pair of a head turned by its position's angle. */
export function rotaryForwardOp(gpu: Gpu, t: { x: Tensor } & RotaryTables, s: RotaryShape, opts: { label?: string } = {}): Promise<RotaryOp> {
  return rotate(gpu, t.x, t, s, false, opts.label ?? "rotary");
}

/** dx ← rotate⁻¹(dx) in place: the gradient of the forward's rotation. */
export function rotaryBackwardOp(gpu: Gpu, t: { dx: Tensor } & RotaryTables, s: RotaryShape, opts: { label?: string } = {}): Promise<RotaryOp> {
  return rotate(gpu, t.dx, t, s, true, `${opts.label ?? "rotary"}.backward`);
}
