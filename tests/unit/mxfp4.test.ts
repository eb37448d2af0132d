// MXFP4 encode/decode on the CPU (src/formats/mxfp4.ts) against blocks worked by hand: the
// scale bytes and element bytes below are computed from the OCP MX v1.0 rules, not by the
// code under test. Each case names the rule it pins: truncating instead of rounding, a
// shared exponent off by one, or the nibble order flipped fails at least one of them. Then
// random blocks against an independent brute-force reference, and every scale × code decoded.
// The GPU kernels are held to this code bit for bit in tests/kernels/cases/mxfp4.ts.
import assert from "node:assert/strict";
import { decodeMxfp4, E2M1_VALUES, encodeMxfp4, mxfp4Bytes, mxfp4PaddedCols } from "../../src/formats/mxfp4.ts";
import { Rng } from "../../src/util/rng.ts";

/** One block: the values, then zeros up to 32. */
function block(values: number[]): Float32Array {
  const x = new Float32Array(32);
  x.set(values);
  return x;
}
const enc = (values: number[]) => encodeMxfp4(block(values), 1, 32);
const hex = (xs: Iterable<number>) => [...xs].map((b) => "0x" + b.toString(16).padStart(2, "0"));
/** The first n block bytes, then a check that the rest are zero. */
function bytes(m: { blocks: Uint8Array }, n: number): string[] {
  assert.deepEqual(hex(m.blocks.subarray(n)), hex(new Uint8Array(m.blocks.length - n)), "the bytes past the hand-worked ones are zero");
  return hex(m.blocks.subarray(0, n));
}
function sameValues(got: Float32Array, want: number[], what: string): void {
  want.forEach((w, i) => assert.ok(Object.is(got[i], w), `${what}: element ${i} decodes to ${got[i]}, want ${w}`));
}

Deno.test("mxfp4: an all-zero block gets the smallest scale (0x00) and zero elements; -0 keeps its sign (0x8)", () => {
  const zeros = enc([]);
  assert.deepEqual(hex(zeros.scales), ["0x00"]);
  assert.deepEqual(bytes(zeros, 0), []);
  sameValues(decodeMxfp4(zeros), new Array(32).fill(0), "+0");
  const signed = enc([-0, 0, 0, -0]);
  assert.deepEqual(hex(signed.scales), ["0x00"]);
  assert.deepEqual(bytes(signed, 2), ["0x08", "0x80"], "element 0 (-0) in byte 0's low nibble, element 3 (-0) in byte 1's high nibble");
  sameValues(decodeMxfp4(signed), [-0, 0, 0, -0, 0], "signed zeros");
});

Deno.test("mxfp4: values landing on E2M1's subnormal (0.5·scale), at an ordinary scale and at the clamped smallest one", () => {
  // max 1 → floor(log2 1) − 2 = −2: scale 0.25 (byte 125). x/0.25:
  //   1 → 4 (code 6); ±0.125 → 0.5 (1, 9); 0.1 → 0.4 → 0.5 (1); 0.0625 → 0.25, the tie 0 | 0.5 → 0 (even);
  //   0.07 → 0.28 → 0.5 (1); 0.18 → 0.72 → 0.5 (1); 0.1875 → 0.75, the tie 0.5 | 1 → 1 (code 2); 0.03 → 0.12 → 0.
  const m = enc([1, 0.125, -0.125, 0.1, 0.0625, 0.07, 0.18, 0.1875, 0.03]);
  assert.deepEqual(hex(m.scales), ["0x7d"]);
  assert.deepEqual(bytes(m, 5), ["0x16", "0x19", "0x10", "0x21", "0x00"]);
  sameValues(decodeMxfp4(m), [1, 0.125, -0.125, 0.125, 0, 0.125, 0.125, 0.25, 0, 0], "scale 0.25");

  // max 2^−126 → floor(log2) − 2 = −128, below E8M0's −127: clamped, scale byte 0x00 (2^−127).
  // x/2^−127: 2^−126 → 2 (code 4); 2^−128 (an f32 subnormal) → 0.5 (1); 3·2^−129 → 0.75, tie → 1 (2);
  // 2^−129 → 0.25, tie → 0; 2^−149 → 0; 1.5·2^−127 → 1.5 (3). Without the clamp the scale byte would be −1.
  const tiny = enc([2 ** -126, 2 ** -128, 3 * 2 ** -129, 2 ** -129, 2 ** -149, 1.5 * 2 ** -127]);
  assert.deepEqual(hex(tiny.scales), ["0x00"]);
  assert.deepEqual(bytes(tiny, 3), ["0x14", "0x02", "0x30"]);
  sameValues(decodeMxfp4(tiny), [2 ** -126, 2 ** -128, 2 ** -127, 0, 0, 1.5 * 2 ** -127], "scale 2^-127 (decoded subnormals exact)");
  // A block far below even that scale flushes to zero whole, still at scale 0x00.
  const gone = enc([2 ** -131, -(2 ** -135)]);
  assert.deepEqual([hex(gone.scales), bytes(gone, 1)], [["0x00"], ["0x80"]]);
});

Deno.test("mxfp4: the largest values (±6·scale) and saturation just past them; the scale steps at each power of two", () => {
  // max 7.99 → floor(log2) = 2 → shared 0: scale 1 (byte 127). 6 → code 7, −6 → 0xf; 5 is the tie 4 | 6 → 4 (code 6,
  // even); 5.000001 → 6 (7); 7.9, −7.99 and 6.5 lie past 6 → saturate to ±6; 4 → code 6.
  const m = enc([6, -6, 5, 5.000001, 7.9, -7.99, 4, 6.5]);
  assert.deepEqual(hex(m.scales), ["0x7f"]);
  assert.deepEqual(bytes(m, 4), ["0xf7", "0x76", "0xf7", "0x76"]);
  sameValues(decodeMxfp4(m), [6, -6, 4, 6, 6, -6, 4, 6], "scale 1");
  // The largest float32 (2^128 − 2^104): shared 125 (byte 252), x/2^125 = 7.9999995 → saturates to 6·2^125.
  const FLT_MAX = 3.4028234663852886e38;
  const top = enc([FLT_MAX, -FLT_MAX, 2 ** 126]);
  assert.deepEqual([hex(top.scales), bytes(top, 2)], [["0xfc"], ["0xf7", "0x04"]]);
  sameValues(decodeMxfp4(top), [6 * 2 ** 125, -6 * 2 ** 125, 2 * 2 ** 125], "scale 2^125");
  // Block max → scale byte: floor(log2 max) − 2 + 127, so an off-by-one exponent changes every row.
  const table: [number, number][] = [
    [1, 125], [1.5, 125], [2, 126], [3.99, 126], [4, 127], [7.99, 127], [8, 128], [-8, 128], [100, 131],
    [2 ** -124, 1], [2 ** -125, 0], [2 ** -126, 0], [2 ** -140, 0], [FLT_MAX, 252],
  ];
  for (const [max, byte] of table) assert.equal(enc([max / 2, max]).scales[0], byte, `block max ${max}`);
});

Deno.test("mxfp4: one large outlier — the small values flush to 0 or 0.5·scale, exactly as worked by hand", () => {
  // max 100 → floor(log2 100) = 6 → shared 4: scale 16 (byte 131). x/16:
  //   100 → 6.25 → saturates to 6 (code 7: 96); 3 → 0.1875 → 0; 4 → 0.25, tie → 0; 5 → 0.3125 → 0.5 (1: 8);
  //   12 → 0.75, tie → 1 (2: 16); −7 → −0.4375 → −0.5 (9: −8); 1 → 0; −100 → 0xf (−96); 24 → 1.5 (3);
  //   40 → 2.5, tie → 2 (4: 32); −3 → −0.1875 → −0 (8).
  const m = enc([100, 3, 4, 5, 12, -7, 1, -100, 24, 40, -3]);
  assert.deepEqual(hex(m.scales), ["0x83"]);
  assert.deepEqual(bytes(m, 6), ["0x07", "0x10", "0x92", "0xf0", "0x43", "0x08"]);
  sameValues(decodeMxfp4(m), [96, 0, 0, 8, 16, -8, 0, -96, 24, 32, -0, 0], "outlier block");
});

Deno.test("mxfp4: ties go to the even code at every midpoint; one ulp either side goes to the nearer value", () => {
  const mids = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5];
  const next = (x: number, dir: 1 | -1) => {
    const b = new Float32Array([x]), u = new Uint32Array(b.buffer);
    u[0] += dir;
    return b[0];
  };
  const codes = (m: { blocks: Uint8Array }, n: number) => Array.from({ length: n }, (_, i) => (m.blocks[i >> 1] >> (4 * (i & 1))) & 15);
  // 4 sets the scale to 1 (byte 127), so x/scale = x.
  for (const [values, want, what] of [
    [mids, [0, 2, 2, 4, 4, 6, 6], "on the midpoints: 0, 1, 1, 2, 2, 4, 4"],
    [mids.map((x) => next(x, 1)), [1, 2, 3, 4, 5, 6, 7], "one ulp above: the upper neighbour"],
    [mids.map((x) => next(x, -1)), [0, 1, 2, 3, 4, 5, 6], "one ulp below: the lower neighbour"],
    [mids.map((x) => -x), [8, 10, 10, 12, 12, 14, 14], "negative midpoints: by magnitude"],
  ] as [number[], number[], string][]) {
    const m = enc([4, ...values]);
    assert.equal(m.scales[0], 127);
    assert.deepEqual(codes(m, 8), [6, ...want], what);
  }
});

Deno.test("mxfp4: NaN or ±Inf anywhere in a block → scale 0xFF, element codes 0, the block decodes to NaN; other blocks are untouched", () => {
  // Set as bits: a NaN passed through a JS number may lose its sign and payload.
  const bad: [number, string][] = [[0x7fc00000, "NaN"], [0xffc00001, "a negative NaN with a payload"], [0x7f800001, "a signalling NaN"], [0x7f800000, "+Inf"], [0xff800000, "-Inf"]];
  for (const [badBits, what] of bad) {
    const row = new Float32Array(64);
    row.set([1, 2, 0, 3]);
    new Uint32Array(row.buffer)[2] = badBits;
    row.set([4, -1], 32);
    const m = encodeMxfp4(row, 1, 64);
    assert.deepEqual(hex(m.scales), ["0xff", "0x7f"], what);
    assert.deepEqual(hex(m.blocks.subarray(0, 16)), hex(new Uint8Array(16)), `${what}: the bad block's elements are code 0`);
    assert.deepEqual(hex(m.blocks.subarray(16, 17)), ["0xa6"], `${what}: the next block is encoded as usual (4 → 6, −1 → 0xa)`);
    const d = decodeMxfp4(m), bits = new Uint32Array(d.buffer);
    for (let i = 0; i < 32; i++) assert.equal(bits[i], 0x7fc00000, `${what}: element ${i} decodes to the one NaN`);
    sameValues(d.subarray(32, 34), [4, -1], `${what}: next block`);
  }
  // A NaN scale decodes to NaN whatever the elements hold.
  const d = decodeMxfp4({ rows: 1, cols: 32, blocks: new Uint8Array(16).fill(0x7f), scales: Uint8Array.of(0xff) });
  assert.ok(d.every(Number.isNaN));
});

Deno.test("mxfp4: rows are padded with zeros to whole blocks; the padding changes no scale or element", () => {
  const rng = new Rng(11), rows = 3, cols = 40;
  const x = Float32Array.from({ length: rows * cols }, () => (rng.uniform() - 0.5) * 3);
  const m = encodeMxfp4(x, rows, cols);
  assert.equal(mxfp4PaddedCols(cols), 64);
  assert.deepEqual(mxfp4Bytes(rows, cols), { blocks: 96, scales: 6 });
  assert.deepEqual([m.blocks.length, m.scales.length], [96, 6]);
  const padded = new Float32Array(rows * 64);
  for (let r = 0; r < rows; r++) padded.set(x.subarray(r * cols, (r + 1) * cols), r * 64);
  const p = encodeMxfp4(padded, rows, 64);
  assert.deepEqual(hex(m.blocks), hex(p.blocks));
  assert.deepEqual(hex(m.scales), hex(p.scales));
  const d = decodeMxfp4(m), dp = decodeMxfp4(p);
  for (let r = 0; r < rows; r++) assert.deepEqual(d.subarray(r * cols, (r + 1) * cols), dp.subarray(r * 64, r * 64 + cols));
  assert.throws(() => decodeMxfp4({ ...m, scales: m.scales.subarray(1) }), /need 96 block bytes and 6 scale bytes, got 96 and 5/);
  assert.throws(() => encodeMxfp4(x, rows, cols + 1), /120 values do not fill rows 3 × cols 41/);
});

/** Independent reference: the exponent by comparing with powers of two, the element by exact distance to all 8 magnitudes. */
function referenceBlock(x: ArrayLike<number>): { scale: number; codes: number[] } {
  const max = Math.max(...Array.from(x, Math.abs));
  if (!Number.isFinite(max)) return { scale: 0xff, codes: Array.from(x, () => 0) };
  let e = -127;
  if (max > 0) {
    let f = 127;
    while (2 ** f > max) f--; // floor(log2 max), exactly
    e = Math.max(-127, f - 2);
  }
  const codes = Array.from(x, (v) => {
    const a = Math.abs(v) / 2 ** e;
    let best = 0;
    for (let c = 1; c < 8; c++) {
      const d = Math.abs(a - E2M1_VALUES[c]), db = Math.abs(a - E2M1_VALUES[best]);
      if (d < db || (d === db && c % 2 === 0)) best = c;
    }
    return best | (v < 0 || Object.is(v, -0) ? 8 : 0);
  });
  return { scale: e + 127, codes };
}

Deno.test("mxfp4: 3,000 random blocks (magnitudes across the float32 range, subnormals, NaN, Inf) equal a brute-force nearest-even reference", () => {
  const rng = new Rng(5), nBlocks = 3000;
  const x = new Float32Array(nBlocks * 32), bits = new Uint32Array(x.buffer);
  for (let b = 0; b < nBlocks; b++) {
    const kind = b % 4, e = rng.int(260) - 150;
    for (let i = 0; i < 32; i++) {
      const j = b * 32 + i;
      if (kind === 3) bits[j] = (rng.int(2 ** 16) * 2 ** 16 + rng.int(2 ** 16)) >>> 0; // any bit pattern
      else x[j] = (rng.uniform() * 2 - 1) * 2 ** (kind === 2 ? e : rng.int(8) - 4);
    }
    if (kind === 1) x[b * 32 + rng.int(32)] = 2 ** rng.int(10) * (rng.uniform() + 1); // an outlier
  }
  const m = encodeMxfp4(x, 1, nBlocks * 32);
  let nonFinite = 0;
  for (let b = 0; b < nBlocks; b++) {
    const ref = referenceBlock(x.subarray(b * 32, b * 32 + 32));
    if (ref.scale === 0xff) nonFinite++;
    assert.equal(m.scales[b], ref.scale, `block ${b}: scale`);
    for (let i = 0; i < 32; i++) {
      const got = (m.blocks[b * 16 + (i >> 1)] >> (4 * (i & 1))) & 15;
      if (got !== ref.codes[i]) assert.fail(`block ${b} element ${i} (${x[b * 32 + i]}): code ${got}, reference ${ref.codes[i]}`);
    }
  }
  assert.ok(nonFinite > 50, `the random bit patterns include NaN/Inf blocks (${nonFinite})`);
});

Deno.test("mxfp4: every scale byte × element code decodes to sign · E2M1 · 2^(s−127) exactly (past the float32 range: ±Inf; 0xFF: NaN)", () => {
  const blocks = new Uint8Array(256 * 16), scales = Uint8Array.from({ length: 256 }, (_, s) => s);
  for (let s = 0; s < 256; s++) for (let c = 0; c < 16; c++) blocks[s * 16 + (c >> 1)] |= c << (4 * (c & 1));
  const d = decodeMxfp4({ rows: 256, cols: 32, blocks, scales });
  for (let s = 0; s < 256; s++) {
    for (let c = 0; c < 16; c++) {
      const want = s === 255 ? NaN : Math.fround((c & 8 ? -1 : 1) * E2M1_VALUES[c & 7] * 2 ** (s - 127));
      assert.ok(Object.is(d[s * 32 + c], want), `scale ${s} code ${c}: ${d[s * 32 + c]}, want ${want}`);
    }
  }
  assert.equal(d[254 * 32 + 7], Infinity, "6·2^127 is past the largest float32");
  assert.equal(d[0 * 32 + 1], 2 ** -128, "0.5·2^−127 is a float32 subnormal, kept");
});
