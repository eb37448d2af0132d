// PyRandom against CPython 3's random.Random: the expected values were printed by
//   python3 -c "import random; r = random.Random(1234); print([r.getrandbits(32) for _ in range(3)])"
// and the like (the commands are beside each check).
import assert from "node:assert/strict";
import { PyRandom } from "../../src/util/py_random.ts";

Deno.test("PyRandom: MT19937 words and getrandbits match CPython (small, two-word and negative seeds)", () => {
  const r = new PyRandom(1234); // [r.getrandbits(32) for _ in range(3)]
  assert.deepEqual([r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)], [4150886329, 3342196574, 1892932127]);
  assert.equal(new PyRandom(-3).getrandbits(40), 649562111997); // Random(-3).getrandbits(40)
  const big = new PyRandom(2 ** 40 + 7); // [r.randrange(1000) for _ in range(4)]
  assert.deepEqual([0, 1, 2, 3].map(() => big.randbelow(1000)), [628, 765, 834, 960]);
});

Deno.test("PyRandom: shuffle and both sample algorithms match CPython", () => {
  assert.deepEqual(new PyRandom(1337).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), [0, 3, 7, 2, 1, 6, 4, 5, 8, 9]);
  // Random(1234 + 5).sample([i for i in range(30) if i != 5], 10): the pool algorithm (n ≤ setsize).
  const avail = Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== 5);
  assert.deepEqual(new PyRandom(1239).sample(avail, 10), [2, 9, 15, 0, 1, 3, 16, 23, 21, 6]);
  // Random(1234).sample(range(1000), 5): the set algorithm.
  assert.deepEqual(new PyRandom(1234).sample(Array.from({ length: 1000 }, (_, i) => i), 5), [989, 796, 451, 119, 7]);
  assert.deepEqual(new PyRandom(0).sample([0, 1, 2, 3, 4, 5, 6, 7], 8), [6, 7, 3, 0, 2, 5, 1, 4]);
  assert.throws(() => new PyRandom(0).sample([1, 2], 3), /sample: k must be 0 … 2/);
});
