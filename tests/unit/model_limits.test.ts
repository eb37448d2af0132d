// checkModelFits: a config that an adapter cannot run fails before any allocation, naming the
// limit, the bytes it needs and the field to lower — checked right at each limit's edge.
import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { checkModelFits, MAX_HEAD_DIM } from "../../src/model/limits.ts";

function adapter(limits: { binding: number; buffer?: number; workgroups?: number }): Gpu {
  return {
    description: "test adapter",
    limits: { maxStorageBufferBindingSize: limits.binding, maxBufferSize: limits.buffer ?? 2 ** 40, maxComputeWorkgroupsPerDimension: limits.workgroups ?? 65535 },
  } as unknown as Gpu;
}

const cfg = (c: Partial<GPTConfig> = {}): GPTConfig => ({ sequence_len: 64, vocab_size: 1000, n_layer: 1, n_head: 2, n_kv_head: 2, n_embd: 64, ...c });

Deno.test("limits: the embedding table fits exactly at the binding limit and not one float over", () => {
  const wte = 1000 * 64 * 4; // 256,000 bytes
  checkModelFits(adapter({ binding: wte }), cfg(), { B: 1, T: 8 });
  assert.throws(() => checkModelFits(adapter({ binding: wte - 4 }), cfg(), { B: 1, T: 8 }),
    /transformer\.wte\.weight \/ lm_head\.weight \(1000×64 float32\) needs 256,000 bytes, over this adapter's maxStorageBufferBindingSize \(255,996 bytes on test adapter\)\. Lower vocab_size or n_embd/);
  // The smaller of the two limits counts, and is named.
  assert.throws(() => checkModelFits(adapter({ binding: 2 ** 30, buffer: wte - 4 }), cfg(), { B: 1, T: 8 }), /over this adapter's maxBufferSize \(255,996 bytes/);
});

Deno.test("limits: the MLP activations (B·T × 4·n_embd floats) at the edge", () => {
  // B·T = 4·250 = 1000 rows × 256 floats = 1,024,000 bytes: over the 256,000 of wte.
  const mlp = 1000 * 4 * 64 * 4;
  checkModelFits(adapter({ binding: 1000 * 4 * 64 * 4 }), cfg({ sequence_len: 250 }), { B: 4, T: 250 });
  assert.throws(() => checkModelFits(adapter({ binding: mlp - 4 }), cfg({ sequence_len: 250 }), { B: 4, T: 250 }),
    /the MLP activations \(B·T=1000 × 4·n_embd=256 float32\) needs 1,024,000 bytes.*Lower the device batch size \(B\) or the sequence length \(T\)/);
});

Deno.test("limits: head_dim over the attention kernel's maximum, T over sequence_len, rows over the 2-D grid", () => {
  checkModelFits(adapter({ binding: 2 ** 30 }), cfg({ n_embd: 2 * MAX_HEAD_DIM, n_head: 2 }), { B: 1, T: 8 });
  assert.throws(() => checkModelFits(adapter({ binding: 2 ** 30 }), cfg({ n_embd: 2 * MAX_HEAD_DIM + 2, n_head: 2 }), { B: 1, T: 8 }), /head_dim 129 .* over the attention kernel's maximum of 128/);
  checkModelFits(adapter({ binding: 2 ** 30 }), cfg(), { B: 1, T: 64 });
  assert.throws(() => checkModelFits(adapter({ binding: 2 ** 30 }), cfg(), { B: 1, T: 65 }), /T=65 is longer than the model's sequence_len 64/);
  // 8·8·2 = 128 rows of attention work against a 2-D grid of 11² = 121 workgroups.
  assert.throws(() => checkModelFits(adapter({ binding: 2 ** 30, workgroups: 11 }), cfg(), { B: 8, T: 8 }), /B·T·n_head = 128 rows is over maxComputeWorkgroupsPerDimension² \(11²\)/);
  checkModelFits(adapter({ binding: 2 ** 30, workgroups: 12 }), cfg(), { B: 8, T: 8 });
});
