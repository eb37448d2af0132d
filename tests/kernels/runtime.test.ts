// The GPU runtime's own behaviour: binding checks against the reflection, error scopes
// naming the work, and the scratch-buffer pool.
import assert from "node:assert/strict";
import { throwIfUncaptured } from "../../src/gpu/errors.ts";
import { loadKernel, runOps } from "../../src/gpu/kernel.ts";
import { BufferPool, createTensor, readF32, uploadTensor } from "../../src/gpu/tensor.ts";
import { ELEMENTWISE_WGSL } from "../../src/nn/elementwise.ts";
import { MATMUL_WGSL, matmulOp } from "../../src/nn/matmul.ts";
import { testGpu } from "./gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({ ...opts, name: "binding a kernel with a missing, extra or misspelled buffer/param fails naming the kernel" }, async () => {
  const gpu = await testGpu();
  const k = await loadKernel(gpu, { url: ELEMENTWISE_WGSL, entry: "add" });
  const t = createTensor(gpu, [4]);
  assert.throws(() => k.bind({ a: t, b: t }, { n: 4, alpha: 0 }, "add-test"), /add-test: buffers do not match.*missing: out/);
  assert.throws(() => k.bind({ a: t, b: t, out: t, c: t }, { n: 4, alpha: 0 }, "add-test"), /not in the shader: c/);
  assert.throws(() => k.bind({ a: t, b: t, out: t }, { n: 4, alfa: 0 }, "add-test"), /params do not match.*missing: alpha.*unknown: alfa/);
  await assert.rejects(loadKernel(gpu, { url: ELEMENTWISE_WGSL, entry: "nope" }), /no compute entry point 'nope'/);
  await assert.rejects(loadKernel(gpu, { url: MATMUL_WGSL, entry: "main", overrides: { TILE: 3 } }), /unknown override constants TILE/);
  t.destroy();
});

Deno.test({ ...opts, name: "matmul shape errors name the op and the shapes before any dispatch" }, async () => {
  const gpu = await testGpu();
  const a = createTensor(gpu, [6]), b = createTensor(gpu, [6]), c = createTensor(gpu, [4]);
  await assert.rejects(matmulOp(gpu, { a, b, c }, { M: 2, N: 3, K: 3 }), /matmul\(A·B M=2 N=3 K=3\): B .* holds 6 elements but M=2 N=3 K=3 batch=1 needs 9/);
  for (const t of [a, b, c]) t.destroy();
});

Deno.test({ ...opts, name: "a WebGPU validation error surfaces as an error naming the work" }, async () => {
  const gpu = await testGpu();
  const k = await loadKernel(gpu, { url: ELEMENTWISE_WGSL, entry: "add" });
  const t = createTensor(gpu, [4]);
  // The same buffer bound read-only and writable in one dispatch is a usage conflict.
  const bound = k.bind({ a: t, b: t, out: t }, { n: 4, alpha: 0 }, "conflicting-add");
  await assert.rejects(runOps(gpu, [{ label: "conflicting-add", record: (p) => bound.dispatch(p, 1) }]), /conflicting-add failed on the GPU/);
  t.destroy();
});

Deno.test({ ...opts, name: "an error in an unchecked submit (the training hot path) is raised after the readback" }, async () => {
  const gpu = await testGpu();
  const k = await loadKernel(gpu, { url: ELEMENTWISE_WGSL, entry: "add" });
  const t = createTensor(gpu, [4]);
  const bound = k.bind({ a: t, b: t, out: t }, { n: 4, alpha: 0 }, "conflicting-add");
  await runOps(gpu, [{ label: "conflicting-add", record: (p) => bound.dispatch(p, 1) }], "unchecked step", { checked: false });
  await readF32(t); // the readback that follows a step
  assert.throws(() => throwIfUncaptured(gpu, "train step 7"), /train step 7 failed on the GPU/);
  throwIfUncaptured(gpu, "after"); // reported once, then cleared
  t.destroy();
});

Deno.test({ ...opts, name: "buffer pool reuses released buffers by size bucket and tracks the peak" }, async () => {
  const gpu = await testGpu();
  const pool = new BufferPool(gpu);
  const x = pool.acquire([100]);
  const y = pool.acquire([1000]);
  assert.equal(pool.peakBytes, 512 + 4096);
  pool.release(x);
  const z = pool.acquire([120]); // same 512-byte bucket
  assert.equal(z.buffer, x.buffer);
  assert.deepEqual(z.shape, [120]);
  const w = uploadTensor(gpu, Float32Array.from([1, 2, 3]));
  assert.deepEqual([...await readF32(w)], [1, 2, 3]);
  pool.release(y);
  pool.release(z);
  pool.destroy();
  w.destroy();
});
