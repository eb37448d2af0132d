import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors, type SafeTensor, toFloat32 } from "../../src/formats/safetensors.ts";

Deno.test("safetensors: round trip of several dtypes with metadata, header as the format specifies", () => {
  const w = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3);
  const ids = Int32Array.from([1, -2, 3]);
  const bytes = encodeSafetensors(
    new Map<string, { dtype: "F32" | "I32"; shape: number[]; data: Float32Array | Int32Array }>([
      ["transformer.wte.weight", { dtype: "F32", shape: [3, 4], data: w }],
      ["ids", { dtype: "I32", shape: [3], data: ids }],
    ]),
    { step: "7" },
  );
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0, "data section is 8-byte aligned");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  assert.deepEqual(header["transformer.wte.weight"], { dtype: "F32", shape: [3, 4], data_offsets: [0, 48] });
  assert.deepEqual(header.ids, { dtype: "I32", shape: [3], data_offsets: [48, 60] });
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, { step: "7" });
  assert.deepEqual([...tensors.get("transformer.wte.weight")!.data as Float32Array], [...w]);
  assert.deepEqual([...tensors.get("ids")!.data as Int32Array], [...ids]);
});

Deno.test("safetensors: bf16 widens to float32 exactly", () => {
  const bf = Uint16Array.from([0x3f80, 0xc000, 0x3e00]); // 1, -2, 0.125
  const bytes = encodeSafetensors(new Map([["x", { dtype: "BF16" as const, shape: [3], data: bf }]]));
  const t = decodeSafetensors(bytes).tensors.get("x")!;
  assert.deepEqual([...toFloat32(t)], [1, -2, 0.125]);
});

Deno.test("safetensors: U8 (MXFP4's block and scale bytes) round-trips at odd lengths, and is not a float tensor", () => {
  const u8 = Uint8Array.from([0x21, 0xf7, 0x00, 0x7f, 0xff]);
  const bytes = encodeSafetensors(new Map<string, SafeTensor | Float32Array>([["w.mxfp4_scales", { dtype: "U8", shape: [1, 5], data: u8 }], ["b", Float32Array.from([2])]]));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))));
  assert.deepEqual(header["w.mxfp4_scales"], { dtype: "U8", shape: [1, 5], data_offsets: [0, 5] });
  const { tensors } = decodeSafetensors(bytes);
  const t = tensors.get("w.mxfp4_scales")!;
  assert.equal(t.dtype, "U8");
  assert.ok(t.data instanceof Uint8Array);
  assert.deepEqual([...t.data as Uint8Array], [...u8]);
  assert.deepEqual([...tensors.get("b")!.data as Float32Array], [2], "a tensor after 5 bytes is read from its own offset");
  assert.throws(() => toFloat32(t, "w.mxfp4_scales"), /w\.mxfp4_scales has dtype U8, expected a float tensor/);
});

Deno.test("safetensors: truncated or corrupt files name the file and the problem", () => {
  const good = encodeSafetensors(new Map([["w", Float32Array.from([1, 2, 3, 4])]]));
  assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 4), "model.safetensors"), /model\.safetensors: tensor w: data \[0, 16\) lies outside/);
  assert.throws(() => decodeSafetensors(good.subarray(0, 5), "m.safetensors"), /m\.safetensors: file is 5 bytes/);
  assert.throws(() => decodeSafetensors(good.subarray(0, 7), "m.safetensors"), /m\.safetensors: file is 7 bytes, too short/);
  // A file of no tensors is its header alone, filling the file exactly.
  assert.equal(decodeSafetensors(encodeSafetensors(new Map()), "empty.safetensors").tensors.size, 0);
  // Exactly the 8-byte length with nothing after it is long enough to read the length: the header is what is wrong.
  assert.throws(() => decodeSafetensors(new Uint8Array(8), "z.safetensors"), /z\.safetensors: header is not valid JSON/);
  const bad = good.slice();
  bad[8] = 0x7b + 1; // break the JSON
  assert.throws(() => decodeSafetensors(bad, "x.safetensors"), /x\.safetensors: header is not valid JSON/);
});
