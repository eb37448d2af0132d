// PyTorch's zip checkpoint format and the restricted pickle reader, without Python or a
// GPU: the fixtures under tests/fixtures/nanochat/ were written by real PyTorch
// (tiny_gpt.py); the broken and hostile inputs are built here or by that script.
import assert from "node:assert/strict";
import { toBFloat16 } from "../../src/formats/bf16.ts";
import { paramsFromStateDict, readTiktokenPickle, stateDictFromParams, writeTiktokenPickle } from "../../src/formats/nanochat.ts";
import { pythonSetOrder } from "../../src/formats/nanochat_optim.ts";
import { readPickle } from "../../src/formats/pickle.ts";
import { readTorchStateDict, readTorchTensor, torchStateDictChunks } from "../../src/formats/torch_save.ts";
import { bytesSource, concatChunks, crc32, readZipDirectory, zipChunks } from "../../src/formats/zip.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { paramShapes } from "../../src/model/config.ts";

const FIX = new URL("../fixtures/nanochat/", import.meta.url);
const read = (p: string) => Deno.readFile(new URL(p, FIX));
const MODEL = "base_checkpoints/d2/model_000010.pt";
const CFG: GPTConfig = { sequence_len: 32, vocab_size: 296, n_layer: 2, n_head: 2, n_kv_head: 1, n_embd: 32 };

Deno.test("torch zip: PyTorch's model_000010.pt reads with its dtypes and shapes; bf16 wte widens exactly", async () => {
  const sd = await readTorchStateDict(bytesSource(await read(MODEL)), MODEL);
  assert.deepEqual([...sd.keys()], paramShapes(CFG).map((p) => p.name), "nanochat's names, in state_dict order");
  assert.equal(sd.get("transformer.wte.weight")!.dtype, "BF16");
  assert.equal(sd.get("lm_head.weight")!.dtype, "F32");
  const params = paramsFromStateDict(sd, CFG, MODEL);
  const wte = params.get("transformer.wte.weight")!, raw = sd.get("transformer.wte.weight")!.data as Uint16Array;
  assert.equal(new Uint32Array(wte.buffer)[5], (raw[5] << 16) >>> 0);
  assert.ok(wte.some((x) => x !== 0));
});

Deno.test("torch zip: our writer's state dict reads back bitwise (f32 and bf16), data aligned to 64 bytes, CRCs right", async () => {
  const f = Float32Array.from({ length: 12 }, (_, i) => Math.fround(Math.sin(i) * 1e3));
  const chunks = torchStateDictChunks([["a", { dtype: "F32", shape: [3, 4], data: f }], ["b", { dtype: "BF16", shape: [12], data: toBFloat16(f) }], ["s", { dtype: "F32", shape: [], data: Float32Array.of(7) }]], "model_000001");
  const bytes = concatChunks(chunks);
  const dir = await readZipDirectory(bytesSource(bytes), "x.pt");
  assert.deepEqual(dir.map((e) => e.name), ["model_000001/data.pkl", "model_000001/byteorder", "model_000001/data/0", "model_000001/data/1", "model_000001/data/2", "model_000001/version"]);
  for (const e of dir.filter((e) => e.name.includes("/data/"))) {
    const nameLen = new DataView(bytes.buffer).getUint16(e.localHeaderOffset + 26, true), extra = new DataView(bytes.buffer).getUint16(e.localHeaderOffset + 28, true);
    assert.equal((e.localHeaderOffset + 30 + nameLen + extra) % 64, 0, `${e.name} data is 64-byte aligned`);
  }
  const sd = await readTorchStateDict(bytesSource(bytes), "x.pt");
  assert.deepEqual(sd.get("a")!.data, f);
  assert.deepEqual(sd.get("a")!.shape, [3, 4]);
  assert.deepEqual(sd.get("b")!.data, toBFloat16(f));
  assert.deepEqual(sd.get("s")!.shape, []);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926, "the CRC-32 check value");
});

Deno.test("bf16 rounding is round-to-nearest-even, like torch", () => {
  const u = Uint32Array.of(0x3f808000, 0x3f818000, 0x3f808001, 0x3f80ffff, 0x7f800000);
  assert.deepEqual([...toBFloat16(new Float32Array(u.buffer))], [0x3f80, 0x3f82, 0x3f81, 0x3f81, 0x7f80]);
});

Deno.test("state dict: _orig_mod. prefix stripped; unknown parameters listed; wrong shapes name the tensor", async () => {
  const params = paramsFromStateDict(await readTorchStateDict(bytesSource(await read(MODEL)), MODEL), CFG, MODEL);
  const entries = stateDictFromParams(params, CFG, "F32");
  const prefixed = new Map(entries.map(([k, t]) => [`_orig_mod.${k}`, t]));
  assert.deepEqual(paramsFromStateDict(prefixed, CFG, "m.pt").get("lm_head.weight"), params.get("lm_head.weight"));
  const later = new Map(entries);
  later.set("resid_lambdas", { dtype: "F32", shape: [2], data: new Float32Array(2) });
  later.set("value_embeds.0.weight", { dtype: "BF16", shape: [296, 32], data: new Uint16Array(296 * 32) });
  assert.throws(() => paramsFromStateDict(later, CFG, "m.pt"), /parameters this lab's GPT does not have: resid_lambdas, value_embeds\.0\.weight\. It is a later nanochat variant/);
  const wrong = new Map(entries);
  wrong.set("transformer.h.1.mlp.c_fc.weight", { dtype: "F32", shape: [32, 128], data: new Float32Array(4096) });
  assert.throws(() => paramsFromStateDict(wrong, CFG, "m.pt"), /m\.pt: tensor transformer\.h\.1\.mlp\.c_fc\.weight has shape \[32,128\], but the model_config makes it \[128,32\]/);
});

Deno.test("torch zip: truncated archives, short storages and out-of-range views are refused naming the problem", async () => {
  const good = await read(MODEL);
  for (const cut of [good.length - 10, good.length >> 1, 100]) {
    await assert.rejects(readTorchStateDict(bytesSource(good.subarray(0, cut)), "m.pt"), /m\.pt: .*(truncated|no zip end record)/);
  }
  // A storage whose data file is shorter than its declared 16 elements.
  const longer = concatChunks(torchStateDictChunks([["w", { dtype: "F32", shape: [4, 4], data: new Float32Array(16) }]], "m"));
  const dirL = await readZipDirectory(bytesSource(longer), "m");
  const pklBytes = async (b: Uint8Array, name: string) => {
    const e = (await readZipDirectory(bytesSource(b), "m")).find((x) => x.name === name)!;
    const dv = new DataView(b.buffer, b.byteOffset);
    const at = e.localHeaderOffset + 30 + dv.getUint16(e.localHeaderOffset + 26, true) + dv.getUint16(e.localHeaderOffset + 28, true);
    return b.slice(at, at + e.size);
  };
  const short = concatChunks(zipChunks([
    { name: "m/data.pkl", data: await pklBytes(longer, "m/data.pkl") },
    { name: "m/data/0", data: new Uint8Array(8 * 4) },
    { name: "m/version", data: new TextEncoder().encode("3\n") },
  ]));
  assert.equal(dirL.length, 4);
  await assert.rejects(readTorchStateDict(bytesSource(short), "short.pt"), /short\.pt: tensor w: storage data\/0 has 32 bytes, but 16 F32 elements need 64/);
  // A view past its storage: shape [4,4] over a pid of 8 elements (BININT1 16 → 8 in the pid).
  const p = await pklBytes(longer, "m/data.pkl");
  const i = p.findIndex((_, j) => p[j] === 0x4b && p[j + 1] === 16 && p[j + 2] === 0x74); // BININT1 16, TUPLE: the pid's numel
  p[i + 1] = 8;
  const over = concatChunks(zipChunks([{ name: "m/data.pkl", data: p }, { name: "m/data/0", data: new Uint8Array(32) }, { name: "m/version", data: new Uint8Array(2) }]));
  await assert.rejects(readTorchStateDict(bytesSource(over), "over.pt"), /over\.pt: tensor w of shape \[4,4\] \(stride \[4,1\], offset 0\) needs 16 elements, its storage declares 8/);
  // A flipped byte in a storage fails its CRC.
  const bad = longer.slice();
  const e = dirL.find((x) => x.name === "m/data/0")!, dv = new DataView(bad.buffer);
  bad[e.localHeaderOffset + 30 + dv.getUint16(e.localHeaderOffset + 26, true) + dv.getUint16(e.localHeaderOffset + 28, true) + 5] ^= 1;
  await assert.rejects(readTorchStateDict(bytesSource(bad), "crc.pt"), /crc\.pt: entry m\/data\/0 fails its CRC-32 check/);
});

Deno.test("pickle: os.system, builtins.eval and unknown classes are refused by name; nothing runs", async () => {
  const rules = { globals: { "collections.OrderedDict": {} } };
  const [sys, ev, unk] = await Promise.all(["evil_os_system.pkl", "evil_eval.pkl", "unknown_class.pkl"].map(read));
  assert.throws(() => readPickle(sys, rules, "a.pkl"), /a\.pkl: refusing the global posix\.system \(byte 13\)/);
  assert.throws(() => readPickle(ev, rules, "b.pkl"), /b\.pkl: refusing the global __builtin__\.eval/);
  assert.throws(() => readPickle(unk, rules, "c.pkl"), /c\.pkl: refusing the global nanochat\.secret\.Thing/);
  assert.throws(() => readTiktokenPickle(sys, "tokenizer.pkl"), /tokenizer\.pkl: refusing the global posix\.system/);
  // The same inside a torch zip: the checkpoint path refuses it too.
  const zip = concatChunks(zipChunks([{ name: "x/data.pkl", data: await read("evil_eval.pkl") }, { name: "x/version", data: new Uint8Array(2) }]));
  await assert.rejects(readTorchStateDict(bytesSource(zip), "evil.pt"), /refusing the global __builtin__\.eval/);
  // Allowed as a value but never called; BUILD only on objects a rule made; protocol-0 opcodes refused.
  const reduceStorage = Uint8Array.from([0x80, 2, ...new TextEncoder().encode("ctorch\nFloatStorage\n"), 0x29, 0x52, 0x2e]);
  await assert.rejects(readTorchTensor(bytesSource(concatChunks(zipChunks([{ name: "y/data.pkl", data: reduceStorage }]))), "y.pt"), /refusing to call torch\.FloatStorage \(REDUCE/);
  assert.throws(() => readPickle(Uint8Array.from([0x80, 2, 0x7d, 0x7d, 0x62, 0x2e]), rules, "d.pkl"), /refusing BUILD/);
  assert.throws(() => readPickle(new TextEncoder().encode("I12\n."), rules, "e.pkl"), /refusing opcode INT at byte 0/);
});

Deno.test("tokenizer.pkl: nanochat's pickled tiktoken Encoding reads; ours is what pickle.dump writes, read back the same", async () => {
  const enc = readTiktokenPickle(await read("tokenizer/tokenizer.pkl"), "tokenizer.pkl");
  assert.equal(enc.name, "rustbpe");
  assert.equal(enc.ranks.length, 256 + 31);
  assert.deepEqual(enc.ranks[104], Uint8Array.of(104));
  assert.deepEqual(enc.specials[0], ["<|bos|>", 287]);
  const again = readTiktokenPickle(writeTiktokenPickle(enc), "ours.pkl");
  assert.deepEqual(again, enc);
  const tb = await readTorchTensor(bytesSource(await read("tokenizer/token_bytes.pt")), "token_bytes.pt");
  assert.equal(tb.dtype, "I32");
  assert.equal(tb.data.length, 296);
});

Deno.test("Muon's groups: CPython's set order of the matrix sizes", () => {
  // Values from CPython 3.11: list({...}) after adding in this order.
  assert.deepEqual(pythonSetOrder([1024, 512, 1024, 4096, 4096]), [1024, 512, 4096]);
  assert.deepEqual(pythonSetOrder([1638400, 6553600]), [1638400, 6553600]);
  assert.deepEqual(pythonSetOrder([9, 1, 17]), [9, 1, 17]);
  assert.deepEqual(pythonSetOrder([2, 10, 18, 26, 34, 42]), [2, 34, 10, 42, 18, 26]);
  assert.deepEqual(pythonSetOrder([40, 8, 3, 5, 6, 100, 7]), [3, 100, 5, 6, 7, 40, 8]);
});
