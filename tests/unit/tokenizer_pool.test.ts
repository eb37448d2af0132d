// Worker pools give the same results as the in-thread paths.
import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { ChunkCounter } from "../../src/tokenizer/train.ts";
import { CountingPool, EncoderPool } from "../../src/tokenizer/pool.ts";
import { SAMPLE_TEXTS } from "../../src/tokenizer/sample_texts.ts";
import { Rng } from "../../src/util/rng.ts";

const rng = new Rng(5);
const BASE = Object.values(SAMPLE_TEXTS);
const DOCS = Array.from({ length: 300 }, (_, i) => BASE[i % BASE.length].slice(rng.int(200)) + ` <|bos|> ${i}`);
const tok = Tokenizer.train(BASE, 800);

Deno.test("pool: batch encoding in 2 workers equals encodeBatch (and the small-batch fallback)", async () => {
  const pool = await EncoderPool.create(tok, { workers: 2, minChars: 0 });
  try {
    assert.equal(pool.workerCount, 2);
    assert.deepEqual(await pool.encodeBatch(DOCS), tok.encodeBatch(DOCS));
    const opts = { allowedSpecial: "all" as const, prepend: "<|bos|>" };
    const flat = await pool.encodeBatchFlat(DOCS, opts);
    const expected = tok.encodeBatch(DOCS, opts);
    assert.equal(flat.offsets.length, DOCS.length + 1);
    for (let i = 0; i < DOCS.length; i++) assert.deepEqual(Array.from(flat.ids.subarray(flat.offsets[i], flat.offsets[i + 1])), expected[i]);
    assert.deepEqual(await pool.encodeBatch(["one text"]), [tok.encodeOrdinary("one text")]);
    assert.deepEqual(await pool.encodeBatch([]), []);
  } finally {
    pool.close();
  }
  const inThread = await EncoderPool.create(tok, { workers: 0 });
  assert.deepEqual(await inThread.encodeBatch(DOCS.slice(0, 5)), tok.encodeBatch(DOCS.slice(0, 5)));
  inThread.close();
});

Deno.test("pool: chunk counting in workers equals ChunkCounter and trains the same merges", async () => {
  const pool = await CountingPool.create({ workers: 2, minChars: 0 });
  try {
    for (let i = 0; i < DOCS.length; i += 70) await pool.add(DOCS.slice(i, i + 70));
    const counted = await pool.finish();
    const local = new ChunkCounter();
    for (const d of DOCS) local.add(d);
    assert.deepEqual(new Map(counted.entries()), new Map(local.entries()));
    assert.equal(counted.chars, local.chars);
    assert.equal(counted.texts, DOCS.length);
    assert.equal(Tokenizer.fromCounter(counted, 900).hash, Tokenizer.fromCounter(local, 900).hash);
  } finally {
    pool.close();
  }
});

Deno.test("pool: a worker that cannot load the tokenizer fails the pool's start, naming why", async () => {
  const broken = { toJSON: () => ({ ...tok.toJSON(), merges: "not a merge list" }) } as unknown as Tokenizer;
  await assert.rejects(EncoderPool.create(broken, { workers: 2, minChars: 0 }), /tokenizer sent to worker/);
});
