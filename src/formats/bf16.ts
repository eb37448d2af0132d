// bfloat16 ↔ float32: the one copy the lab's checkpoints (safetensors BF16) and nanochat's
// files (torch bfloat16 storages) share. A bf16 is the top half of a float32 (sign, the
// same 8-bit exponent, 7 mantissa bits), so widening is a 16-bit shift and exact, while
// narrowing must round: to nearest, ties to even, as IEEE 754 and torch's
// .to(torch.bfloat16) do (truncating would bias every weight towards zero).
// Runtime-agnostic.

/** float32 → bfloat16 bits, round to nearest even; NaN stays NaN, overflow becomes ±Inf. */
export function toBFloat16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i];
    // The quiet bit keeps a NaN whose payload sits in the dropped half from becoming Inf.
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >>> 16) | 0x40;
    // Adding 0x7fff plus the kept half's lowest bit carries exactly when the dropped half
    // is above one half, or equal to it with an odd kept half; a carry out of the mantissa
    // bumps the exponent, which is the correct rounding too (up to Inf past the largest
    // finite bf16). NaNs were handled above, so the sum stays below 2^32.
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bfloat16 bits → float32, exactly. */
export function fromBFloat16(h: Uint16Array): Float32Array {
  const out = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = h[i] << 16;
  return new Float32Array(out.buffer);
}
