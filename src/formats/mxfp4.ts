// MXFP4 (OCP Microscaling Formats v1.0): blocks of 32 FP4 E2M1 elements sharing one E8M0
// scale. The CPU reference the checkpoint format, the GPU kernels (kernels/mxfp4.wgsl) and
// their tests agree with bit for bit. Runtime-agnostic.
//
// Element (4 bits): sign · E2M1, magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6} for codes 0…7
// (0.5 is its one subnormal). Scale (8 bits): E8M0, 2^(s − 127) for s = 0…254; 0xFF is NaN.
//
// Encoding follows the spec's conversion (section 6.3): the shared exponent is
// floor(log2(max |x| of the block)) − 2, 2 being E2M1's largest exponent, so the block's
// largest value lands in [4, 8) and the elements use the whole E2M1 range; clamped to E8M0's
// finite range [−127, 127] (an f32 block never needs more than 125). Each element is then
// x / 2^shared rounded to the nearest E2M1 value, ties to the even code, saturating at ±6.
// Choices the spec leaves open, made here:
//   - all-zero block (±0 only): the smallest scale, 0x00 (2^−127);
//   - NaN or ±Inf anywhere in the block: the scale is 0xFF and every element code 0, so the
//     whole block decodes to NaN. Inf is treated like NaN because the scale comes from
//     max |x| (log2 of Inf has no E8M0 exponent, as in Microsoft's microxcaling reference)
//     and saturating it to ±6·2^125 would hide a broken weight as a huge finite one;
//   - the sign is always kept: −0 and negative values that round to zero encode as 0x8
//     (−0), as IEEE rounding would give.
//
// Layout of a rows × cols matrix: each row is padded with zeros to a multiple of 32
// elements (paddedCols); zeros never raise a block's max, so padding changes no scale or
// element of the real columns. blocks: rows × paddedCols/2 bytes, element 2i in the low
// nibble of byte i and 2i + 1 in the high nibble (read as little-endian u32 words, element
// k is bits 4·(k mod 8) of word k / 8). scales: rows × paddedCols/32 bytes, one per block,
// row-major.

/** Elements per block. */
export const MXFP4_BLOCK = 32;
/** The E8M0 byte that means NaN. */
export const E8M0_NAN = 0xff;
export const E8M0_BIAS = 127;
/** Magnitudes of E2M1 codes 0…7 (code | 8 is the negative). */
export const E2M1_VALUES: readonly number[] = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
/** E2M1's largest exponent: 6 = 1.5 · 2^2. */
const E2M1_EMAX = 2;
/**
 * Midpoints between neighbouring E2M1 magnitudes. A value exactly on midpoint k (between
 * codes k and k + 1) goes to the even code: up when k is odd, down when k is even.
 */
const MIDPOINTS = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5];

/** A matrix in MXFP4: the bytes of model.safetensors' `<name>.mxfp4_blocks` and `.mxfp4_scales`. */
export interface Mxfp4Matrix {
  rows: number;
  /** Logical columns; each row is stored padded to paddedCols(cols). */
  cols: number;
  /** rows × paddedCols/2 bytes, two elements a byte (element 2i in the low nibble). */
  blocks: Uint8Array;
  /** rows × paddedCols/32 E8M0 bytes. */
  scales: Uint8Array;
}

/** cols rounded up to whole blocks: what each stored row holds. */
export function mxfp4PaddedCols(cols: number): number {
  return Math.ceil(cols / MXFP4_BLOCK) * MXFP4_BLOCK;
}

/** Bytes of blocks and scales for a rows × cols matrix. */
export function mxfp4Bytes(rows: number, cols: number): { blocks: number; scales: number } {
  const p = mxfp4PaddedCols(cols);
  return { blocks: (rows * p) / 2, scales: (rows * p) / MXFP4_BLOCK };
}

/** floor(log2 |x|) of a non-zero finite float32 magnitude, from its bits (exact, subnormals included). */
function floorLog2(mag: number): number {
  const e = mag >>> 23;
  return e > 0 ? e - 127 : 31 - Math.clz32(mag) - 149;
}

/** E2M1 code (0…7) of a magnitude already divided by the block's scale: nearest, ties to even, saturating. */
function e2m1Code(v: number): number {
  let code = 0;
  for (let k = 0; k < MIDPOINTS.length; k++) if (v > MIDPOINTS[k] || (v === MIDPOINTS[k] && (k & 1) === 1)) code = k + 1;
  return code;
}

/** float32 rows × cols (row-major) → MXFP4. */
export function encodeMxfp4(x: Float32Array, rows: number, cols: number): Mxfp4Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 1) throw new RangeError(`MXFP4 encode: rows ${rows} × cols ${cols} is not a matrix`);
  if (x.length !== rows * cols) throw new RangeError(`MXFP4 encode: ${x.length} values do not fill rows ${rows} × cols ${cols}`);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const perRow = mxfp4PaddedCols(cols) / MXFP4_BLOCK;
  const { blocks: nb, scales: ns } = mxfp4Bytes(rows, cols);
  const blocks = new Uint8Array(nb), scales = new Uint8Array(ns);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < perRow; b++) {
      const k0 = b * MXFP4_BLOCK, k1 = Math.min(cols, k0 + MXFP4_BLOCK), base = r * cols;
      // |x| compares as its bits; NaN's bits lie above Inf's, so one max finds both.
      let maxMag = 0;
      for (let k = k0; k < k1; k++) maxMag = Math.max(maxMag, bits[base + k] & 0x7fffffff);
      const g = r * perRow + b;
      if (maxMag >= 0x7f800000) {
        scales[g] = E8M0_NAN; // the elements stay code 0
        continue;
      }
      const shared = maxMag === 0 ? -E8M0_BIAS : Math.min(127, Math.max(-E8M0_BIAS, floorLog2(maxMag) - E2M1_EMAX));
      scales[g] = shared + E8M0_BIAS;
      const inv = 2 ** -shared; // |x| · inv is exact in float64 for every f32 and shared here
      for (let k = k0; k < k1; k++) {
        const u = bits[base + k];
        const code = e2m1Code(Math.abs(x[base + k]) * inv) | ((u >>> 31) << 3);
        const byte = g * (MXFP4_BLOCK / 2) + ((k - k0) >> 1);
        blocks[byte] |= (k - k0) & 1 ? code << 4 : code;
      }
    }
  }
  return { rows, cols, blocks, scales };
}

/** MXFP4 → float32 rows × cols, exactly (every MXFP4 value is a float32; 2^128 and up become ±Inf). */
export function decodeMxfp4(m: Mxfp4Matrix): Float32Array {
  const { rows, cols } = m;
  const perRow = mxfp4PaddedCols(cols) / MXFP4_BLOCK;
  const need = mxfp4Bytes(rows, cols);
  if (m.blocks.length !== need.blocks || m.scales.length !== need.scales) {
    throw new RangeError(`MXFP4 decode: rows ${rows} × cols ${cols} need ${need.blocks} block bytes and ${need.scales} scale bytes, got ${m.blocks.length} and ${m.scales.length}`);
  }
  const out = new Float32Array(rows * cols);
  const outBits = new Uint32Array(out.buffer);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) {
      const g = r * perRow + Math.floor(k / MXFP4_BLOCK), s = m.scales[g];
      const i = r * cols + k;
      // Written as bits so every NaN is the same one the GPU writes (0x7fc00000).
      if (s === E8M0_NAN) {
        outBits[i] = 0x7fc00000;
        continue;
      }
      const j = k % MXFP4_BLOCK, byte = m.blocks[g * (MXFP4_BLOCK / 2) + (j >> 1)];
      const code = j & 1 ? byte >> 4 : byte & 15;
      const v = E2M1_VALUES[code & 7] * 2 ** (s - E8M0_BIAS);
      out[i] = code & 8 ? -v : v;
    }
  }
  return out;
}
