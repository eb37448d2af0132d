// Which adapters count as software (it picks tile budgets, the peak-matmul size and what
// the lab says about speed): the fallback flag or the name of a CPU rasteriser.
import assert from "node:assert/strict";
import { isSoftwareAdapter } from "../../src/gpu/device.ts";

const info = (o: Record<string, unknown>) => ({ vendor: "", architecture: "", device: "", description: "", ...o }) as unknown as GPUAdapterInfo;

Deno.test("software adapters: the fallback flag or a software rasteriser's name; hardware otherwise", () => {
  assert.equal(isSoftwareAdapter(info({ vendor: "nvidia", description: "NVIDIA H200", isFallbackAdapter: false })), false);
  assert.equal(isSoftwareAdapter(info({ vendor: "apple", architecture: "metal-3" })), false);
  assert.equal(isSoftwareAdapter(info({ description: "some adapter", isFallbackAdapter: true })), true);
  assert.equal(isSoftwareAdapter(info({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" })), true);
  assert.equal(isSoftwareAdapter(info({ vendor: "google", architecture: "swiftshader" })), true);
  assert.equal(isSoftwareAdapter(info({ description: "Microsoft Basic Render Driver (WARP)" })), true);
});
