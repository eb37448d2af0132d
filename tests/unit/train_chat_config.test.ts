// The chat stages' run config (chatStageConfig): what comes from the source checkpoint,
// what from the stage's reference defaults, what from the preset/flags, and the errors.
import assert from "node:assert/strict";
import { type ChatSource, chatStageConfig, STAGE_DEFAULTS } from "../../src/train/deno_chat.ts";
import type { LoadedCheckpoint } from "../../src/formats/checkpoint.ts";

function source(run: string, userConfig: Record<string, unknown>): ChatSource {
  const cfg = { sequence_len: 64, vocab_size: 512, n_layer: 2, n_head: 2, n_kv_head: 2, n_embd: 64 };
  const checkpoint = { cfg, params: new Map(), meta: { step: 8, stage: "base", user_config: userConfig } } as unknown as LoadedCheckpoint;
  return { run, runDir: `/runs/${run}`, dir: `/runs/${run}/checkpoints/step_000008`, step: 8, checkpoint };
}

const BASE_USER = { runs_dir: "/runs", data_dir: "/data", device_batch_size: 4, total_batch_size: 256, eval_tokens: 512, matrix_lr: 0.03, seed: 7, weight_decay: 0.1 };

Deno.test("chat stage config: the source's model, paths and LRs; the stage's defaults; then the overrides", () => {
  const r = chatStageConfig("mid", source("tiny", BASE_USER), {}, 12);
  assert.deepEqual([r.model.n_layer, r.model.n_embd, r.model.vocab_size, r.model.sequence_len], [2, 64, 512, 64]);
  assert.equal(r.config.run, "tiny-mid");
  assert.equal(r.config.tokenizer_dir, "/runs/tiny/tokenizer");
  assert.deepEqual([r.config.device_batch_size, r.config.total_batch_size, r.config.eval_tokens, r.config.matrix_lr, r.config.seed], [4, 256, 512, 0.03, 7]);
  // Pretraining's weight decay is not inherited: mid's reference default (0) is.
  assert.equal(r.config.weight_decay, STAGE_DEFAULTS.mid.weight_decay);
  assert.equal(r.config.mixture, "offline-mid");
  assert.equal(r.numIterations, 12);
  const o = chatStageConfig("mid", source("tiny", BASE_USER), { matrix_lr: 0.01, num_iterations: 3, run: "mine" }, 12);
  assert.deepEqual([o.config.matrix_lr, o.numIterations, o.config.run], [0.01, 3, "mine"]);
});

Deno.test("chat stage config: sft's batch is examples × row length, its run named after the source's base name", () => {
  const r = chatStageConfig("sft", source("tiny-mid", BASE_USER), { max_seq_len: 32, target_examples_per_step: 8, device_batch_size: 2 }, 5);
  assert.equal(r.config.run, "tiny-sft");
  assert.equal(r.config.total_batch_size, 8 * 32);
  assert.equal(r.gradAccumSteps, 4);
  assert.equal(r.config.init_lr_frac, 0.02);
  // The model keeps the source's rotary length; rows are shorter.
  assert.deepEqual([r.config.max_seq_len, r.model.sequence_len], [32, 64]);
});

Deno.test("chat stage config: a row longer than the source model says where it came from and what to pass", () => {
  assert.throws(
    () => chatStageConfig("sft", source("tiny-mid", BASE_USER), { max_seq_len: 65 }, 5),
    /max_seq_len 65 \(from --max-seq-len or the preset's 'sft' export\) is longer than the source model's sequence_len 64; pass --max-seq-len 64 or less/,
  );
  assert.equal(chatStageConfig("sft", source("tiny-mid", BASE_USER), { max_seq_len: 64 }, 5).config.max_seq_len, 64);
});
