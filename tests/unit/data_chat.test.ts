// Chat-stage batches on hand-made ids: SFT right-padding with masked targets, and
// mid-training packing (mask ignored, B*T+1 chunks, one epoch, resumable).
import assert from "node:assert/strict";
import { type ConversationSource, MidPacker, sftBatch, sftBatches } from "../../src/data/chat_batches.ts";

// 100 = <|bos|>, 101 = <|assistant_end|> (also the pad id, as in the reference), 99 = pad in one test.
const A = { ids: [100, 1, 2, 3, 101], mask: [0, 0, 1, 1, 1] };
const B = { ids: [100, 5, 101], mask: [0, 1, 1] };
const C = { ids: [100, 7, 8, 9, 10, 11, 101], mask: [0, 0, 0, 1, 1, 0, 1] };

Deno.test("chat: SFT batch pads to the longest row; targets are next tokens where their mask is 1, else -1", () => {
  const b = sftBatch([A, B], 99);
  assert.equal(b.B, 2);
  assert.equal(b.T, 4);
  assert.deepEqual(Array.from(b.inputs), [100, 1, 2, 3, /**/ 100, 5, 99, 99]);
  assert.deepEqual(Array.from(b.targets), [-1, 2, 3, 101, /**/ 5, 101, -1, -1]);

  const c = sftBatch([C], 101);
  assert.deepEqual(Array.from(c.inputs), [100, 7, 8, 9, 10, 11]);
  assert.deepEqual(Array.from(c.targets), [-1, -1, 9, 10, -1, 101]);

  // A fixed T crops longer conversations and pads shorter ones.
  const f = sftBatch([A, B], 101, { T: 2 });
  assert.deepEqual(Array.from(f.inputs), [100, 1, 100, 5]);
  assert.deepEqual(Array.from(f.targets), [-1, 2, 5, 101]);
  const g = sftBatch([B], 101, { T: 5 });
  assert.deepEqual(Array.from(g.inputs), [100, 5, 101, 101, 101]);
  assert.deepEqual(Array.from(g.targets), [5, 101, -1, -1, -1]);

  assert.throws(() => sftBatch([], 0), /at least one conversation/);
  assert.throws(() => sftBatch([{ ids: [1, 2], mask: [0] }], 0), /2 ids but 1 mask values/);
  assert.throws(() => sftBatch([{ ids: [1], mask: [0] }], 0), /needs 2 to make one/);
});

Deno.test("chat: sftBatches groups B conversations and drops the last partial group unless asked", () => {
  const all = [...sftBatches([A, B, C, A, B], 2, 101)];
  assert.equal(all.length, 2);
  assert.equal(all[1].T, 6); // C is the longest in the second batch
  assert.deepEqual(Array.from(all[1].inputs.subarray(6)), [100, 1, 2, 3, 101, 101]);
  const withLast = [...sftBatches([A, B, C, A, B], 2, 101, { keepLast: true })];
  assert.equal(withLast.length, 3);
  assert.equal(withLast[2].B, 1);
});

const source = (convs: typeof A[]): ConversationSource => ({ length: convs.length, get: (i) => convs[i] });

Deno.test("chat: mid-training packs every token (mask ignored) into B*T+1 chunks for one epoch", () => {
  const stream = [...A.ids, ...B.ids, ...C.ids]; // 15 tokens
  const packer = new MidPacker(source([A, B, C]), 1, 3);
  const b1 = packer.next()!;
  assert.deepEqual(Array.from(b1.inputs), stream.slice(0, 3));
  assert.deepEqual(Array.from(b1.targets), stream.slice(1, 4));
  assert.equal(b1.lastStep, false);
  const b2 = packer.next()!;
  assert.deepEqual(Array.from(b2.inputs), stream.slice(4, 7));
  // Filling the 3rd batch reads C, the last conversation: the cursor wraps, so (as in the
  // reference) this is the last step, and C's remaining tokens are never used.
  const b3 = packer.next()!;
  assert.deepEqual(Array.from(b3.inputs), stream.slice(8, 11));
  assert.deepEqual(Array.from(b3.targets), stream.slice(9, 12));
  assert.equal(b3.lastStep, true);
  assert.deepEqual(packer.state(), { cursor: 0, epoch: 1, buffer: stream.slice(12) });
  assert.equal(packer.next(), null);
});

Deno.test("chat: mid-training state resumes exactly; ranks take every W-th conversation", () => {
  const convs = [A, B, C, B, A, C, C, A];
  const straight = new MidPacker(source(convs), 2, 3, { maxEpochs: 3 });
  const expected: number[][] = [];
  for (let b = straight.next(); b; b = straight.next()) expected.push([...b.inputs, ...b.targets]);
  assert.ok(expected.length > 10);
  for (const k of [1, 4, 9]) {
    const first = new MidPacker(source(convs), 2, 3, { maxEpochs: 3 });
    const got: number[][] = [];
    for (let i = 0; i < k; i++) {
      const b = first.next()!;
      got.push([...b.inputs, ...b.targets]);
    }
    const resumed = new MidPacker(source(convs), 2, 3, { maxEpochs: 3 }, JSON.parse(JSON.stringify(first.state())));
    for (let b = resumed.next(); b; b = resumed.next()) got.push([...b.inputs, ...b.targets]);
    assert.deepEqual(got, expected, `resumed after ${k}`);
  }
  // Rank 1 of 2 reads conversations 1, 3, 5, 7: B, B, C, A.
  const r1 = new MidPacker(source(convs), 1, 4, { rank: 1, worldSize: 2 });
  const want = [...B.ids, ...B.ids, ...C.ids, ...A.ids];
  assert.deepEqual(Array.from(r1.next()!.inputs), want.slice(0, 4));
  assert.deepEqual(Array.from(r1.next()!.inputs), want.slice(5, 9));
  assert.throws(() => new MidPacker(source([]), 1, 4), /no conversations to pack/);
});
