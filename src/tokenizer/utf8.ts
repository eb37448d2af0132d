// UTF-8 encoding of short strings straight into a typed array. The trainer and the
// encoder convert one chunk at a time; TextEncoder.encode costs a few microseconds per
// call in Deno (it crosses into native code and allocates), more than the work itself.
// Lone surrogates become U+FFFD (EF BF BD), exactly as TextEncoder does.

/** Writes the UTF-8 bytes of `s` into `out` at `pos` (room for 3 * s.length bytes needed); returns the new end. */
export function utf8Into(s: string, out: Uint8Array | Int32Array, pos: number): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[pos++] = c;
      continue;
    }
    if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6);
      out[pos++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[pos++] = 0xf0 | (c >> 18);
        out[pos++] = 0x80 | ((c >> 12) & 63);
        out[pos++] = 0x80 | ((c >> 6) & 63);
        out[pos++] = 0x80 | (c & 63);
        continue;
      }
      c = 0xfffd; // lone surrogate
    }
    out[pos++] = 0xe0 | (c >> 12);
    out[pos++] = 0x80 | ((c >> 6) & 63);
    out[pos++] = 0x80 | (c & 63);
  }
  return pos;
}

/** UTF-8 bytes of `s`. */
export function utf8Bytes(s: string): Uint8Array {
  const buf = new Uint8Array(3 * s.length);
  return buf.subarray(0, utf8Into(s, buf, 0));
}
