// IEEE 754 half precision (binary16) ↔ float32, for safetensors F16 tensors: 1 sign bit,
// 5 exponent bits (bias 15), 10 mantissa bits; largest finite 65504, smallest normal
// 2^-14, subnormals down to 2^-24. Widening is exact. Narrowing rounds to nearest, ties to
// even (as torch's .half() does), overflows to ±Inf past 65520 and keeps NaN a NaN; values
// below 2^-25 become ±0. Weights of a trained GPT sit far inside the finite range, so what
// f16 costs a checkpoint is its 11-bit precision (bf16 keeps 8 bits, f32's range).
// Runtime-agnostic.

/** float32 → half-precision bits, round to nearest even. */
export function toFloat16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i], sign = (b >>> 16) & 0x8000, abs = b & 0x7fffffff;
    if (abs > 0x7f800000) out[i] = sign | 0x7e00 | ((abs >>> 13) & 0x3ff); // NaN, quiet
    else if (abs >= 0x477ff000) out[i] = sign | 0x7c00; // 65520 and up (or Inf): 65504's tie rounds to even, Inf
    else if (abs >= 0x38800000) {
      // Normal: re-bias the exponent (127 → 15), then round off 13 mantissa bits; a carry
      // into the exponent is the correct rounding (1.111…1 × 2^e → 1.0 × 2^(e+1)).
      const v = abs - 0x38000000;
      out[i] = sign | ((v + 0x0fff + ((v >>> 13) & 1)) >>> 13);
    } else {
      // Subnormal (or zero): the value in units of 2^-24, rounded to an even integer on a tie;
      // 1024 units is the smallest normal, whose bits are the same integer.
      const units = Math.abs(x[i]) * 2 ** 24, lo = Math.floor(units), frac = units - lo;
      out[i] = sign | (frac > 0.5 || (frac === 0.5 && (lo & 1)) ? lo + 1 : lo);
    }
  }
  return out;
}

/** Half-precision bits → float32, exactly. */
export function fromFloat16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const v = h[i], s = v & 0x8000 ? -1 : 1, e = (v >> 10) & 31, m = v & 1023;
    out[i] = e === 0 ? s * 2 ** -24 * m : e === 31 ? (m ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + m / 1024);
  }
  return out;
}
