// Verified data: shards written by prepareCorpus (the real `data prepare` writer) with one
// byte flipped at several offsets — the header, inside data pages, the footer, the last
// byte — are each refused by the training loader before any row is used, naming the shard
// and the command that rebuilds it. A manifest without hashes is said once and let through.
import assert from "node:assert/strict";
import { createLocalLoader, verifyShard } from "../../src/data/deno_shards.ts";
import { DataError } from "../../src/data/errors.ts";
import { type Manifest, MANIFEST, prepareCorpus } from "../../src/data/prepare.ts";
import { DEFAULT_CORPUS_OPTIONS } from "../../src/data/corpus.ts";
import { denoFiles } from "../../src/io/deno_files.ts";
import { ByteTokenizer, withTempDir } from "../fixtures/data/helpers.ts";

// Small files in the corpus' own (tagged Brown) format, so prepareCorpus plans real shards.
const files = Array.from({ length: 30 }, (_, i) => ({
  name: `c${"abcdef"[i % 6]}${String(10 + i).padStart(2, "0")}`,
  text: Array.from({ length: 40 }, (_, j) => `\tThe/at quick/jj brown/jj fox/nn ${i * 40 + j}/cd jumps/vbz over/in the/at lazy/jj dog/nn ./.`).join("\n\n"),
}));

async function prepare(dir: string): Promise<Manifest> {
  const r = await prepareCorpus({
    store: denoFiles(), dir, source: "test@1", loadFiles: () => Promise.resolve(files),
    options: { ...DEFAULT_CORPUS_OPTIONS, shardChars: 40_000, rowGroupSize: 4, codec: "SNAPPY" },
  });
  return r.manifest;
}

const firstBatch = async (dir: string) => (await createLocalLoader(dir, "train", { tokenizer: new ByteTokenizer(), B: 1, T: 8 })).next();

Deno.test("verified data: a byte flipped at any of several offsets of a real shard is caught before the loader yields a batch", async () => {
  await withTempDir(async (dir) => {
    const m = await prepare(dir);
    assert.ok(m.shards.length >= 2, `${m.shards.length} shards`);
    const name = m.shards[0].name, path = `${dir}/${name}`;
    const original = await Deno.readFile(path);
    assert.ok(await firstBatch(dir), "the intact shards load");
    const n = original.length;
    for (const offset of [5, Math.floor(n * 0.25), Math.floor(n / 2), Math.floor(n * 0.75), n - 12, n - 1]) {
      const bad = original.slice();
      bad[offset] ^= 0x01;
      await Deno.writeFile(path, bad);
      await assert.rejects(firstBatch(dir), (err: Error) => {
        assert.ok(err instanceof DataError, `offset ${offset}: ${err}`);
        assert.equal(err.file, path);
        assert.match(err.message, new RegExp(`${name}: its contents do not match the SHA-256 in .*${MANIFEST}.*deno task data prepare --dir ${dir}`));
        return true;
      }, `offset ${offset} of ${n}`);
    }
    await Deno.writeFile(path, original.slice(0, n - 100));
    await assert.rejects(firstBatch(dir), /has \d+ bytes, but manifest\.json says \d+ \(truncated or changed\)/);
    await Deno.writeFile(path, original);
    assert.ok(await firstBatch(dir), "repaired: loads again");
  });
});

Deno.test("verified data: a manifest without hashes (or none at all) is said once, and the shards are used", async () => {
  await withTempDir(async (dir) => {
    const m = await prepare(dir);
    const old = { ...m, shards: m.shards.map(({ sha256: _, ...s }) => s) };
    await Deno.writeTextFile(`${dir}/${MANIFEST}`, JSON.stringify(old));
    const said: string[] = [];
    for (const s of m.shards) await verifyShard(`${dir}/${s.name}`, (l) => said.push(l));
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(said[0], /has no SHA-256 for .*used unverified; 'deno task data prepare --dir .* --force' rebuilds them with hashes/);
  });
});
