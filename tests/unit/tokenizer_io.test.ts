// Persistence: tokenizer.json round trip and hash, the .tiktoken export, token_bytes,
// the tokenizer directory through a FileStore, and clear errors for unusable files.
import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { loadTokenizer, saveTokenizer } from "../../src/tokenizer/store.ts";
import { sha256Hex } from "../../src/tokenizer/sha256.ts";
import { SAMPLE_TEXTS } from "../../src/tokenizer/sample_texts.ts";
import { denoFiles } from "../../src/io/deno_files.ts";

const TEXT = Object.values(SAMPLE_TEXTS).join("\n");
const tok = Tokenizer.train(Object.values(SAMPLE_TEXTS), 700);

Deno.test("io: sha256 matches known vectors and crypto.subtle", async () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const n of [55, 56, 64, 1000]) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
    const ref = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    assert.equal(sha256Hex(data), Array.from(ref, (b) => b.toString(16).padStart(2, "0")).join(""));
  }
});

Deno.test("io: tokenizer.json round trip keeps merges, specials, hash and encodings", () => {
  const text = tok.toFileText();
  const back = Tokenizer.fromJSON(text);
  assert.deepEqual(back.merges, tok.merges);
  assert.deepEqual(back.specialTokens, tok.specialTokens);
  assert.equal(back.hash, tok.hash);
  assert.deepEqual(back.encodeOrdinary(TEXT), tok.encodeOrdinary(TEXT));
  assert.match(tok.hash, /^[0-9a-f]{64}$/);
  // JSON.stringify(tok) goes through toJSON(), and parses back the same
  assert.equal(Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok))).hash, tok.hash);
  const file = JSON.parse(text);
  assert.equal(file.format, "webgpu-nanochat-tokenizer");
  assert.equal(file.version, 1);
  assert.equal(file.vocab_size, 700);
  assert.equal(file.merges.length, 700 - 265);
  assert.deepEqual(file.merges[0], [tok.merges[0], tok.merges[1]]);
  // different merges -> different hash
  assert.notEqual(new Tokenizer(tok.merges.slice(0, -2)).hash, tok.hash);
});

Deno.test("io: .tiktoken export is '<base64 bytes> <rank>' per mergeable token and loads back", () => {
  const lines = tok.toTiktoken().trimEnd().split("\n");
  assert.equal(lines.length, 256 + tok.numMerges);
  assert.equal(lines[0], "AA== 0");
  assert.equal(lines[65], `${btoa("A")} 65`);
  assert.equal(lines[255], "/w== 255");
  const first = String.fromCharCode(tok.merges[0]) + String.fromCharCode(tok.merges[1]);
  assert.equal(lines[256], `${btoa(first)} 256`);
  const back = Tokenizer.fromTiktoken(tok.toTiktoken());
  assert.equal(back.vocabSize, tok.vocabSize);
  assert.deepEqual(back.encodeOrdinary(TEXT), tok.encodeOrdinary(TEXT));
  assert.throws(() => Tokenizer.fromTiktoken("AA== 0\nAQ== 2\n"), /line 2: expected "<base64> 1"/);
  assert.throws(() => Tokenizer.fromTiktoken("AQ== 0\n"), /rank 0 must be the single byte 0/);
});

Deno.test("io: token bytes are raw byte lengths, 0 for specials", () => {
  const tb = tok.tokenBytes();
  assert.equal(tb.length, tok.vocabSize);
  for (let i = 0; i < 256; i++) assert.equal(tb[i], 1);
  for (let id = 256; id < 256 + tok.numMerges; id++) assert.equal(tb[id], tok.decodeBytes([id]).length);
  for (const s of tok.specialTokens) assert.equal(tb[tok.specialId(s)], 0);
  const file = JSON.parse(tok.tokenBytesJSON());
  assert.equal(file.hash, tok.hash);
  assert.deepEqual(file.token_bytes, Array.from(tb));
});

Deno.test("io: save and load a tokenizer directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const paths = await saveTokenizer(denoFiles(), `${dir}/tok`, tok);
    assert.deepEqual(paths.map((p) => p.slice(dir.length + 5)), ["tokenizer.json", "tokenizer.tiktoken", "token_bytes.json"]);
    const back = await loadTokenizer(denoFiles(), `${dir}/tok`);
    assert.equal(back.hash, tok.hash);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("io: unusable tokenizer files give errors naming the file and the problem", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/tokenizer.json`;
  const load = () => loadTokenizer(denoFiles(), dir);
  const good = JSON.parse(tok.toFileText());
  const write = (v: unknown) => Deno.writeTextFile(path, typeof v === "string" ? v : JSON.stringify(v));
  try {
    await assert.rejects(load, (e: Error) => e.message.includes(path) && /not found.*deno task tok train/.test(e.message));
    await Deno.writeFile(path, new Uint8Array([0xff, 0xfe, 0x00, 0x81]));
    await assert.rejects(load, new RegExp(`${path} is not a tokenizer file \\(not UTF-8 text\\)`));
    await write("{ merges: [");
    await assert.rejects(load, new RegExp(`${path} is not valid JSON`));
    await write({ ...good, format: "something-else" });
    await assert.rejects(load, /is not a usable tokenizer file: "format" must be "webgpu-nanochat-tokenizer"/);
    await write({ ...good, version: 9 });
    await assert.rejects(load, /version 9 is not supported/);
    await write({ ...good, pattern: "\\w+" });
    await assert.rejects(load, /split pattern differs/);
    await write({ ...good, merges: [[97, 98], [300, 1]] });
    await assert.rejects(load, /merge 1 is \[300,1\], expected two ids below 257/);
    const tampered = structuredClone(good);
    tampered.merges[3] = [tampered.merges[3][1], tampered.merges[3][0]];
    await write(tampered);
    await assert.rejects(load, new RegExp(`${path} is corrupt: its content hashes to`));
    await write({ ...good, vocab_size: 5 });
    await assert.rejects(load, /"vocab_size" is 5 but the merges and specials make 700/);
    assert.throws(() => tok.decode([tok.vocabSize]), /token id 700 is outside the vocabulary \(size 700\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
