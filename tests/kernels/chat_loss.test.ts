// The chat stages' losses on the GPU: SFT learns only from the assistant's supervised
// tokens — padding and masked positions contribute exactly nothing — and mid-training
// learns from every token.
import assert from "node:assert/strict";
import { MidPacker, sftBatch } from "../../src/data/chat_batches.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { runOps } from "../../src/gpu/kernel.ts";
import { GPT } from "../../src/model/gpt.ts";
import { type Conversation, renderConversation } from "../../src/tokenizer/chat.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { nudgedParams } from "./harness.ts";
import { testGpu } from "./gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const tok = new Tokenizer([]); // bytes 0..255, specials 256..264
const CFG: GPTConfig = { sequence_len: 64, vocab_size: 265, n_layer: 1, n_head: 2, n_kv_head: 1, n_embd: 32 };

const TOOL: Conversation = {
  messages: [
    { role: "user", content: "What is 12 times 3?" },
    { role: "assistant", content: [{ type: "python", text: "12*3" }, { type: "python_output", text: "36" }, { type: "text", text: "\n#### 36" }] },
  ],
};
const SHORT: Conversation = { messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }] };

async function lossAndGrads(model: GPT, inputs: Int32Array, targets: Int32Array) {
  const loss = await model.forwardBackward(inputs, targets);
  return { loss, rows: await model.readRowLosses(), grads: await model.readGrads() };
}

const bitsEqual = (a: Float32Array, b: Float32Array) => a.length === b.length && new Uint32Array(a.buffer).every((w, i) => w === new Uint32Array(b.buffer)[i]);

Deno.test({
  ...opts,
  name: "SFT: only supervised assistant tokens carry loss; a change in padding or in a masked position's target changes no gradient",
  fn: async () => {
    const gpu = await testGpu();
    const rows = [renderConversation(tok, TOOL), renderConversation(tok, SHORT)];
    const padId = tok.specialId("<|assistant_end|>");
    const b = sftBatch(rows, padId);
    const model = await GPT.create(gpu, CFG, { B: b.B, T: b.T, training: true });
    model.loadParams(nudgedParams(CFG, 9, 0.05, 4));

    const base = await lossAndGrads(model, b.inputs, b.targets);
    const supervised = [...b.targets.keys()].filter((i) => b.targets[i] >= 0);
    // Supervised = the assistant's tokens (python call, "\n#### 36", <|assistant_end|>), not the user's or the tool output.
    const want = rows.reduce((n, r) => n + r.mask.slice(1).filter((m) => m === 1).length, 0);
    assert.equal(supervised.length, want);
    for (let i = 0; i < b.targets.length; i++) {
      if (b.targets[i] < 0) assert.equal(base.rows[i], 0, `position ${i} is masked but has loss ${base.rows[i]}`);
      else assert.ok(base.rows[i] > 0, `supervised position ${i} has no loss`);
    }
    const mean = supervised.reduce((s, i) => s + base.rows[i], 0) / supervised.length;
    assert.ok(Math.abs(base.loss - mean) < 1e-5 * mean, `loss ${base.loss} is the mean over supervised tokens (${mean})`);

    // Row 1 ends early: its padding is input to nothing supervised. Other tokens there change nothing.
    const padded = b.inputs.slice();
    const end = b.T * 1 + rows[1].ids.length;
    for (let i = end; i < 2 * b.T; i++) padded[i] = (i * 7) % 256;
    const samePad = await lossAndGrads(model, padded, b.targets);
    assert.equal(samePad.loss, base.loss);
    for (const [n, g] of base.grads) assert.ok(bitsEqual(g, samePad.grads.get(n)!), `${n}: padding changed the gradient`);

    // A masked position keeps target −1 whatever token follows it (here: the user's text);
    // the loss's own gradient ignores what that token would be. Positive control: supervising
    // one masked position does change the gradient, so the equality above means something.
    const masked = [...b.targets.keys()].find((i) => b.targets[i] < 0 && i < rows[0].ids.length - 1)!;
    const unmasked = b.targets.slice();
    unmasked[masked] = b.inputs[masked + 1];
    const control = await lossAndGrads(model, b.inputs, unmasked);
    assert.ok([...control.grads].some(([n, g]) => !bitsEqual(g, base.grads.get(n)!)), "supervising a masked position must change some gradient");
    model.destroy();
  },
});

Deno.test({
  ...opts,
  name: "mid-training: every token of the packed conversations, user and tool output included, carries loss",
  fn: async () => {
    const gpu = await testGpu();
    const convs = [renderConversation(tok, TOOL), renderConversation(tok, SHORT)];
    const packer = new MidPacker({ length: convs.length, get: (i) => convs[i] }, 2, 24);
    const b = packer.next()!;
    assert.ok(b.targets.every((t) => t >= 0), "no target is masked");
    const model = await GPT.create(gpu, CFG, { B: 2, T: 24, training: true });
    model.loadParams(nudgedParams(CFG, 3, 0.05, 4));
    const r = await lossAndGrads(model, b.inputs, b.targets);
    assert.ok(r.rows.every((l) => l > 0), "every position contributes to the loss");
    model.destroy();
  },
});

Deno.test({
  ...opts,
  name: "RL's weighted loss through the GPT: weight 2 doubles every gradient, weight 0 silences a row, a later unweighted batch is back to 1",
  fn: async () => {
    const gpu = await testGpu();
    const rows = [renderConversation(tok, TOOL), renderConversation(tok, SHORT)];
    const b = sftBatch(rows, tok.specialId("<|assistant_end|>"));
    const model = await GPT.create(gpu, CFG, { B: b.B, T: b.T, training: true });
    model.loadParams(nudgedParams(CFG, 11, 0.05, 4));
    const run = async () => {
      const r = await lossAndGrads(model, b.inputs, b.targets);
      return { grads: r.grads, rows: r.rows };
    };
    // forwardBackward resets weights to 1 (it calls setBatch without them), so weighted runs go through runOps directly.
    const weightedRun = async (weights: Float32Array) => {
      model.setBatch(b.inputs, b.targets, { weights });
      await runOps(gpu, [...model.zeroGradOps, ...model.forwardOps, ...model.backwardOps]);
      return { grads: await model.readGrads(), rows: await model.readRowLosses() };
    };
    const one = await run();
    const N = b.B * b.T;
    const two = await weightedRun(new Float32Array(N).fill(2));
    for (const [n, g] of one.grads) {
      const g2 = two.grads.get(n)!;
      assert.ok(g.every((v, i) => Math.abs(g2[i] - 2 * v) <= 1e-6 * Math.max(1, Math.abs(v))), `${n}: weight 2 must double the gradient`);
    }
    // Row 0 (the tool conversation) weighted 0, row 1 weighted 1: only row 1's tokens carry loss.
    const rowOnly = new Float32Array(N).fill(1).fill(0, 0, b.T);
    const half = await weightedRun(rowOnly);
    for (let i = 0; i < N; i++) assert.equal(half.rows[i], i < b.T ? 0 : one.rows[i], `position ${i}`);
    const back = await run();
    for (const [n, g] of one.grads) assert.ok(bitsEqual(g, back.grads.get(n)!), `${n}: an unweighted batch after a weighted one must weigh 1`);
    model.destroy();
  },
});
