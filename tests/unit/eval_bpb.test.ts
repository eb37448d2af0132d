import assert from "node:assert/strict";
import { BpbAccumulator } from "../../src/eval/bpb.ts";

Deno.test("bits per byte: nats over counted targets / (ln 2 · their bytes); specials and −1 skipped", () => {
  const tokenBytes = Int32Array.from([1, 2, 3, 0]); // id 3 is a special token (0 bytes)
  const acc = new BpbAccumulator(tokenBytes);
  acc.add([0.5, 1.0, 2.0, 9.0, 7.0], [0, 1, 2, 3, -1]);
  acc.add([1.5], [2]);
  const r = acc.result();
  // counted: 0.5 (1 byte) + 1.0 (2) + 2.0 (3) + 1.5 (3) = 5.0 nats over 9 bytes
  assert.equal(r.tokens, 4);
  assert.equal(r.bytes, 9);
  assert.ok(Math.abs(r.bpb - 5.0 / (Math.LN2 * 9)) < 1e-15);
  assert.ok(Math.abs(r.loss - 5.0 / 4) < 1e-15);
});

Deno.test("bits per byte: a single one-byte target is its loss in bits; nothing counted is NaN", () => {
  const one = new BpbAccumulator(Int32Array.from([1, 0]));
  one.add([0.75, 3.0], [0, 1]); // id 1 is a special token: not counted
  assert.equal(one.result().bytes, 1);
  assert.ok(Math.abs(one.result().bpb - 0.75 / Math.LN2) < 1e-15);
  const none = new BpbAccumulator(Int32Array.from([1, 0])).result();
  assert.ok(Number.isNaN(none.bpb) && Number.isNaN(none.loss));
});
