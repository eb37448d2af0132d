// CORE's model side on WebGPU (a depth-1 model): the per-position losses and greedy
// predictions CoreScorer gives equal the float64 CPU reference GPT's, over rows of
// different lengths padded in one batch; and on weights with a known next-token rule
// (tests/fixtures/core/bigram.ts) the fixture bundle's tasks score their known answers.
import assert from "node:assert/strict";
import type { GPTConfig } from "../../src/model/config.ts";
import { CoreScorer, type ScoredRow } from "../../src/eval/core_scorer.ts";
import { evaluateCore } from "../../src/eval/core_run.ts";
import { loadCoreBundle } from "../../src/eval/deno_core_bundle.ts";
import { Rng } from "../../src/util/rng.ts";
import { refForward, toFloat64Params } from "../reference/gpt.ts";
import { nudgedParams } from "./harness.ts";
import { testGpu } from "./gpu.ts";
import { bigramParams, bigramRowModel, encode, EXPECTED, FIXTURE_DIR } from "../fixtures/core/bigram.ts";

const CFG: GPTConfig = { sequence_len: 24, vocab_size: 128, n_layer: 1, n_head: 4, n_kv_head: 2, n_embd: 64 };
const PAD = 0;

Deno.test({
  name: "core scorer: per-position losses and continuation argmaxes equal the float64 reference GPT's, rows of any length batched together",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    const params = nudgedParams(CFG, 3, 0.05, 4);
    const rng = new Rng(9);
    const row = (len: number, start: number, end: number): ScoredRow => ({ tokens: Array.from({ length: len }, (_, i) => (i === 0 ? PAD : 1 + rng.int(127))), start, end });
    const rows = [row(24, 20, 24), row(9, 5, 9), row(3, 1, 3)]; // a full row, then two in the second forward of B = 2
    const scorer = await CoreScorer.create(gpu, CFG, params, { B: 2, pad: PAD });
    const losses = await scorer.losses(rows), greedy = await scorer.argmax(rows);
    scorer.destroy();
    const ref64 = toFloat64Params(CFG, params), T = CFG.sequence_len, V = CFG.vocab_size;
    let worst = 0, compared = 0;
    rows.forEach((r, b) => {
      const inputs = new Int32Array(T).fill(PAD), targets = new Int32Array(T).fill(-1);
      inputs.set(r.tokens), targets.set(r.tokens.slice(1));
      const { cache } = refForward(CFG, ref64, inputs, targets, 1, T);
      assert.equal(losses[b].loss.length, r.tokens.length - 1);
      for (let t = 0; t < r.tokens.length - 1; t++) worst = Math.max(worst, Math.abs(losses[b].loss[t] - cache.losses[t]) / Math.max(1, cache.losses[t]));
      for (let t = 0; t < r.tokens.length; t++) {
        const logits = cache.logits.subarray(t * V, (t + 1) * V);
        const order = [...logits.keys()].sort((i, j) => logits[j] - logits[i] || i - j);
        const scored = t >= r.start - 1 && t < r.end - 1;
        // Only where the reference's top two differ beyond float32 noise is the argmax defined.
        if (!scored) assert.equal(greedy[b].argmax[t], -1, `row ${b} position ${t} is no continuation position`);
        else if (logits[order[0]] - logits[order[1]] > 1e-4) assert.equal(greedy[b].argmax[t], order[0], `row ${b} position ${t}`), compared++;
      }
    });
    console.log(`worst loss rel.err ${worst.toExponential(2)}; ${compared} argmaxes compared`);
    assert.ok(worst < 1e-4, `loss rel.err ${worst}`);
    assert.ok(compared >= 6, `only ${compared} argmax positions compared`);
  },
});

Deno.test({
  name: "core scorer: on weights whose next token is a known rule, the fixture bundle's three task types score their known answers on the GPU",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    const { tasks } = await loadCoreBundle(`${FIXTURE_DIR}/eval_bundle`);
    const scorer = await CoreScorer.create(gpu, CFG, bigramParams(CFG, 5), { B: 2, pad: PAD });
    const gpuRun = await evaluateCore(tasks, encode, scorer);
    scorer.destroy();
    const cpuRun = await evaluateCore(tasks, encode, bigramRowModel(CFG.sequence_len));
    assert.deepEqual(gpuRun.results.map((r) => [r.label, r.correct, r.total]), Object.entries(EXPECTED).map(([l, e]) => [l, e.correct, e.total]));
    assert.deepEqual(gpuRun, cpuRun);
  },
});
