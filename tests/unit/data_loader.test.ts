// The packing loader: the token stream equals the reference's (BOS + document, in shard /
// row-group / row order, B*T+1 tokens per batch), stop + restore gives exactly the
// uninterrupted stream, rank striding partitions the row groups, seeded orders are
// permutations, and bad shards fail with the file's name.
import assert from "node:assert/strict";
import { createLoader, type DataLoader, type LoaderOptions, type LoaderState, splitShards } from "../../src/data/loader.ts";
import { openLocalShard } from "../../src/data/deno_source.ts";
import { DataError } from "../../src/data/errors.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { EncoderPool } from "../../src/tokenizer/pool.ts";
import { ByteTokenizer, makeDocs, referenceStream, withTempDir, writeShards } from "../fixtures/data/helpers.ts";

const RG = 16; // rows per row group in these fixtures
// Three shards of different sizes (the last one ends in a partial row group).
const SHARDS = [makeDocs(48, "a"), makeDocs(40, "b"), makeDocs(37, "c")];

async function fixture<T>(fn: (paths: string[]) => Promise<T>): Promise<T> {
  return await withTempDir(async (dir) => fn(await writeShards(dir, SHARDS, RG)));
}

const base = (paths: string[], extra: Partial<LoaderOptions> = {}): LoaderOptions => ({
  shards: paths,
  open: openLocalShard,
  tokenizer: new ByteTokenizer(),
  B: 2,
  T: 24,
  ...extra,
});

/** Concatenation of each batch's B*T+1 tokens (inputs, then the last target). */
async function take(loader: DataLoader, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = await loader.next();
    assert.ok(b, `batch ${i} missing`);
    assert.equal(b.inputs.length, b.B * b.T);
    assert.deepEqual(Array.from(b.targets.subarray(0, -1)), Array.from(b.inputs.subarray(1))); // targets = inputs shifted
    out.push(...b.inputs, b.targets[b.targets.length - 1]);
  }
  return out;
}

Deno.test("loader: batches are consecutive B*T+1 slices of the BOS-prefixed document stream, across shards and epochs", async () => {
  await fixture(async (paths) => {
    const stream = referenceStream(SHARDS.flat());
    const need = 2 * 24 + 1;
    const loader = await createLoader(base(paths));
    const nBatches = Math.floor(stream.length / need) + 5; // run past the end: epoch 2 continues the stream
    const got = await take(loader, nBatches);
    const twice = [...stream, ...stream];
    assert.deepEqual(got, twice.slice(0, got.length));
    assert.equal(loader.state().epoch, 1);
    assert.equal(loader.tokensServed, nBatches * need);

    // maxEpochs 1: every whole batch, then null (the leftover tail is dropped).
    const once = await createLoader(base(paths, { maxEpochs: 1 }));
    let count = 0;
    for await (const _ of once) count++;
    assert.equal(count, Math.floor(stream.length / need));
    assert.equal(await once.next(), null);
    const b = await (await createLoader(base(paths))).next();
    assert.equal(b!.inputs[0], 256, "the first token is <|bos|>");
    assert.equal(b!.targets[0], "a".charCodeAt(0));
  });
});

Deno.test("loader: stop after k batches, save the state as JSON, restore, continue == the uninterrupted stream", async () => {
  await fixture(async (paths) => {
    const streamLength = referenceStream(SHARDS.flat()).length;
    for (const extra of [{}, { seed: 7 }, { rank: 1, worldSize: 2 }, { seed: 3, rank: 0, worldSize: 3, prefetch: false }, { B: 1, T: 5 }]) {
      const opts = base(paths, extra);
      const need = opts.B * opts.T + 1;
      // Far enough to cross every shard and the epoch boundary.
      const total = Math.ceil((1.3 * streamLength) / (opts.worldSize ?? 1) / need);
      const straight = await take(await createLoader(opts), total);
      // k = 0, 1, mid row group, in later shards and past the epoch boundary.
      for (const k of [0, 1, 0.13, 0.37, 0.55, 0.71, 0.9].map((f) => (f < 1 && f > 0 ? Math.round(f * total) : f))) {
        const first = await createLoader(opts);
        const head = await take(first, k);
        const state: LoaderState = JSON.parse(JSON.stringify(first.state()));
        first.close();
        const resumed = await createLoader(opts, state);
        const tail = await take(resumed, total - k);
        if (k === Math.round(0.9 * total)) assert.equal(resumed.state().epoch, 1, "the run crossed into epoch 1");
        resumed.close();
        assert.deepEqual([...head, ...tail], straight, `options ${JSON.stringify(extra)}, resumed after ${k} batches`);
        // Small state: the leftover buffer is shorter than one document (+BOS).
        assert.ok(state.buffer.length <= 1 + Math.max(...SHARDS.flat().map((d) => new TextEncoder().encode(d).length)));
        assert.ok(JSON.stringify(state).length < 2000, `state is ${JSON.stringify(state).length} chars`);
      }
    }
  });
});

Deno.test("loader: rank r of W reads row groups r, r+W, ... of each shard; ranks partition the data", async () => {
  await fixture(async (paths) => {
    const W = 2;
    const docsOf = (rank: number) =>
      SHARDS.flatMap((docs) => {
        const groups = Math.ceil(docs.length / RG);
        const mine: string[] = [];
        for (let g = rank; g < groups; g += W) mine.push(...docs.slice(g * RG, (g + 1) * RG));
        return mine;
      });
    for (let rank = 0; rank < W; rank++) {
      const stream = referenceStream(docsOf(rank));
      const loader = await createLoader(base(paths, { rank, worldSize: W, B: 1, T: 1, maxEpochs: 1 }));
      const got = await take(loader, Math.floor(stream.length / 2));
      assert.deepEqual(got, stream.slice(0, got.length), `rank ${rank}`);
    }
    assert.equal(docsOf(0).length + docsOf(1).length, SHARDS.flat().length);
    assert.equal(new Set([...docsOf(0), ...docsOf(1)]).size, SHARDS.flat().length);
  });
});

/** The documents a loader yields, in order (B=1, T=1: the stream is consumed whole but for <= 1 token). */
async function docsOfEpochs(paths: string[], seed: number | null, epochs: number): Promise<string[]> {
  const loader = await createLoader(base(paths, { seed, B: 1, T: 1, maxEpochs: epochs }));
  const toks: number[] = [];
  for await (const b of loader) toks.push(b.inputs[0], b.targets[0]);
  const dec = new TextDecoder();
  const docs: string[] = [];
  let cur: number[] | null = null;
  for (const t of toks) {
    if (t === 256) {
      if (cur) docs.push(dec.decode(new Uint8Array(cur)));
      cur = [];
    } else cur!.push(t);
  }
  if (cur && cur.length) docs.push(dec.decode(new Uint8Array(cur)));
  return docs;
}

Deno.test("loader: a seed gives a deterministic shuffled order that is a permutation of the documents, new each epoch", async () => {
  await fixture(async (paths) => {
    const docsOfEpoch = (seed: number | null, epochs: number) => docsOfEpochs(paths, seed, epochs);
    const all = SHARDS.flat();
    const plain = await docsOfEpoch(null, 1);
    assert.deepEqual(plain.slice(0, -1), all.slice(0, -1));
    const s1 = await docsOfEpoch(11, 2);
    const again = await docsOfEpoch(11, 2);
    assert.deepEqual(s1, again, "same seed, same order");
    const e1 = s1.slice(0, all.length), e2 = s1.slice(all.length);
    assert.deepEqual([...e1].sort(), [...all].sort(), "epoch 1 is a permutation");
    assert.notDeepEqual(e1, all, "shuffled");
    assert.notDeepEqual(e2, e1, "epoch 2 has another order");
    assert.equal(e2.length, all.length);
    for (const d of e2.slice(0, -1)) assert.ok(all.includes(d), "epoch 2 repeats the same documents");
    assert.notDeepEqual(await docsOfEpoch(12, 1), e1, "another seed, another order");
  });
});

Deno.test("loader: inside one shard, a seed shuffles the row groups anew each epoch, each epoch visiting every row group once", async () => {
  const docs = makeDocs(6 * RG, "s");
  await withTempDir(async (dir) => {
    const paths = await writeShards(dir, [docs], RG);
    const got = await docsOfEpochs(paths, 5, 3);
    const groupOf = (d: string) => Math.floor(docs.indexOf(d) / RG);
    const orders = [0, 1, 2].map((e) => got.slice(e * docs.length, (e + 1) * docs.length).filter((_, i) => i % RG === 0).map(groupOf));
    for (const o of orders) assert.deepEqual([...o].sort(), [0, 1, 2, 3, 4, 5], `each epoch visits every row group once: ${o}`);
    assert.notDeepEqual(orders[0], [0, 1, 2, 3, 4, 5], "shuffled");
    assert.notDeepEqual(orders[1], orders[0], "epoch 2 has another row-group order");
    assert.notDeepEqual(orders[2], orders[1], "epoch 3 has another row-group order");
  });
});

Deno.test("loader: an async encodeBatch (the BPE tokenizer in workers) gives the same stream as encodeOrdinary", async () => {
  await fixture(async (paths) => {
    const tok = Tokenizer.train(SHARDS.flat(), 400);
    const pool = await EncoderPool.create(tok, { workers: 2, minChars: 0 });
    try {
      const plain = await take(await createLoader(base(paths, { tokenizer: tok })), 30);
      const pooled = await take(await createLoader(base(paths, { tokenizer: tok, encodeBatch: (t) => pool.encodeBatchFlat(t) })), 30);
      assert.deepEqual(pooled, plain);
      assert.equal(plain[0], tok.bosId);
      assert.equal(plain.filter((t) => t === tok.bosId).length >= 10, true);
    } finally {
      pool.close();
    }
  });
});

Deno.test("loader: a corrupt shard mid-run fails with its file name after the good shards' batches; bad inputs are clear errors", async () => {
  await withTempDir(async (dir) => {
    const paths = await writeShards(dir, SHARDS, RG);
    const bytes = await Deno.readFile(paths[1]);
    await Deno.writeFile(paths[1], bytes.slice(0, bytes.length - 50)); // truncated shard 1
    const loader = await createLoader(base(paths, { B: 1, T: 16 }));
    const good = referenceStream(SHARDS[0]).length;
    let served = 0;
    await assert.rejects(async () => {
      for (;;) {
        await loader.next();
        served++;
      }
    }, (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.equal(err.file, paths[1]);
      assert.match(err.message, /shard_00001\.parquet: does not end with the parquet magic 'PAR1': the file is truncated/);
      return true;
    });
    assert.equal(served, Math.floor(good / 17), "every batch of shard 0 came out before the error");

    await assert.rejects(createLoader(base([])), /no shards to load: the shard list is empty; run 'deno task data prepare'/);
    await assert.rejects(createLoader(base(paths, { rank: 2, worldSize: 2 })), /rank 2 of worldSize 2/);
    await assert.rejects(createLoader(base(paths, { T: 0 })), /T must be a positive integer/);
    const state = (await createLoader(base(paths))).state();
    await assert.rejects(
      createLoader(base(paths.slice(1)), { ...state, shardIndex: 0 }),
      /does not fit the shard list: index 0 is .*shard_00001\.parquet; the data directory changed/,
    );
    await assert.rejects(createLoader(base([`${dir}/gone.parquet`])), /gone\.parquet: no such shard file/);
  });
});

Deno.test("loader: splitShards keeps the reference split (sorted, last = val)", () => {
  const s = splitShards(["/d/shard_00002.parquet", "/d/shard_00000.parquet", "/d/shard_00001.parquet"]);
  assert.deepEqual(s, { train: ["/d/shard_00000.parquet", "/d/shard_00001.parquet"], val: ["/d/shard_00002.parquet"] });
  // The reference's 1,823 shards, listed in a scrambled order (long runs either way, as a
  // directory listing gives): sorted by file name, whatever the directories.
  const names = Array.from({ length: 1823 }, (_, i) => `shard_${String(i).padStart(5, "0")}.parquet`);
  const scrambled = [...names.slice(900).reverse(), ...names.slice(0, 900)].map((n, i) => `${i % 2 ? "/a" : "/b/c"}/${n}`);
  const big = splitShards(scrambled);
  assert.deepEqual([...big.train, ...big.val].map((p) => p.slice(p.lastIndexOf("/") + 1)), names);
});
