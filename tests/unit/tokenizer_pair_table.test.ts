// The tokenizer trainer's pair → index hash table, past its initial capacity (both id
// arrays and the slot array grow) and with ids near 2^31.
import assert from "node:assert/strict";
import { PairTable } from "../../src/tokenizer/pair_table.ts";

Deno.test("pair table: dense indices in insertion order, lookups and both ids survive growth far past the initial capacity", () => {
  const table = new PairTable(4);
  const n = 5000;
  const pair = (i: number): [number, number] => [(i * 7919) % 65536, 0x7fffffff - i];
  for (let i = 0; i < n; i++) assert.equal(table.intern(...pair(i)), i);
  assert.equal(table.size, n);
  for (let i = 0; i < n; i++) {
    const [a, b] = pair(i);
    assert.equal(table.get(a, b), i);
    assert.equal(table.intern(a, b), i); // present: same index, no new entry
    assert.equal(table.left[i], a);
    assert.equal(table.right[i], b);
  }
  assert.equal(table.size, n);
  assert.equal(table.get(1, 2), -1);
  assert.equal(table.get(pair(3)[1], pair(3)[0]), -1); // (b, a) is another pair
});
