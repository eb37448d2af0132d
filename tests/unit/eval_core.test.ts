// CORE's task types on hand-made items with known answers: the prompts each renders (as
// core_eval.py's templates do), the continuation spans, mean-loss and greedy scoring, the
// few-shot draw (CPython's Random(1234 + i).sample), cropping, centring and the CORE mean;
// then the per-task loop over the fixture bundle (tests/fixtures/core/) with a model of known answers.
import assert from "node:assert/strict";
import {
  batchSequences, centeredAccuracy, coreMetric, cropBatch, fewshotIndices, isCorrect, predict, renderPrompts, type RowForward,
} from "../../src/eval/core.ts";
import { coreItemOrder, coreTable, evaluateCore } from "../../src/eval/core_run.ts";
import { loadCoreBundle } from "../../src/eval/deno_core_bundle.ts";
import { bigramRowModel, encode as charEncode, EXPECTED, FIXTURE_DIR } from "../fixtures/core/bigram.ts";

/** BOS = 0, then one token per character (its code point). */
const encode = (s: string) => [0, ...Array.from(s, (c) => c.codePointAt(0)!)];

Deno.test("core: multiple choice renders few-shot blocks with the gold answer, then one prompt per choice; the continuation follows the common prefix", () => {
  const item = { query: "Q: 2+2?", choices: ["3", "4", "22"], gold: 1 };
  const shot = { query: "Q: 1+1?", choices: ["2", "5"], gold: 0 };
  const prompts = renderPrompts("multiple_choice", item, "\nAnswer: ", [shot]);
  assert.deepEqual(prompts, ["Q: 1+1?\nAnswer: 2\n\nQ: 2+2?\nAnswer: 3", "Q: 1+1?\nAnswer: 2\n\nQ: 2+2?\nAnswer: 4", "Q: 1+1?\nAnswer: 2\n\nQ: 2+2?\nAnswer: 22"]);
  const b = batchSequences("multiple_choice", prompts, encode);
  const prefix = 1 + "Q: 1+1?\nAnswer: 2\n\nQ: 2+2?\nAnswer: ".length;
  assert.deepEqual(b.start, [prefix, prefix, prefix]);
  assert.deepEqual(b.end, [prefix + 1, prefix + 1, prefix + 2]);
});

Deno.test("core: schema varies the context and shares the continuation (the common suffix); LM strips the bare prompt", () => {
  const item = { context_options: ["The cat sat", "A dog ran"], continuation: "on the mat.", gold: 0 };
  const shot = { context_options: ["No", "Birds fly"], continuation: "south.", gold: 1 };
  const prompts = renderPrompts("schema", item, " ", [shot]);
  assert.deepEqual(prompts, ["Birds fly south.\n\nThe cat sat on the mat.", "Birds fly south.\n\nA dog ran on the mat."]);
  const b = batchSequences("schema", prompts, encode);
  // The common suffix is " on the mat." (12 tokens, the space included).
  assert.deepEqual(b.start.map((s, i) => b.end[i] - s), [12, 12]);
  assert.deepEqual(b.end, prompts.map((p) => p.length + 1));

  const lm = renderPrompts("language_modeling", { context: "  The capital of France is ", continuation: "Paris" }, "\nAnswer: ", [{ context: " 2+2 = ", continuation: "4" }]);
  assert.deepEqual(lm, ["2+2 =\nAnswer: 4\n\nThe capital of France is\nAnswer:", "2+2 =\nAnswer: 4\n\nThe capital of France is\nAnswer: Paris"]);
  // Stripping moved the delimiter's space into the continuation: it starts right after "Answer:".
  const b2 = batchSequences("language_modeling", lm, encode);
  assert.deepEqual([b2.tokens.length, b2.start[0], b2.end[0]], [1, 1 + lm[0].length, 1 + lm[1].length]);
  assert.equal(String.fromCodePoint(...b2.tokens[0].slice(b2.start[0], b2.end[0])), " Paris");
  // An empty context leaves the delimiter leading the bare prompt; stripped, it is no prefix.
  assert.throws(() => batchSequences("language_modeling", renderPrompts("language_modeling", { context: "", continuation: "x" }, "\nAnswer: "), encode), /not a strict prefix/);
});

Deno.test("core: choices are ranked by mean (not summed) continuation loss, the first of equal means wins; LM needs every greedy token", () => {
  // Two MC rows sharing a 3-token prefix; row 0's continuation is 1 token, row 1's is 3.
  const b = { tokens: [[0, 5, 6, 7], [0, 5, 6, 8, 9, 9]], start: [3, 3], end: [4, 6] };
  // loss[t] predicts token t+1: row 0's continuation loss is loss[2]; row 1's are loss[2..4].
  const rows: RowForward[] = [{ loss: [0, 0, 1.0, 0], argmax: [] }, { loss: [0, 0, 0.9, 1.0, 0.8, 0], argmax: [] }];
  assert.equal(predict("multiple_choice", b, rows), 1); // mean 0.9 < 1.0, though its sum 2.7 is larger
  assert.equal(isCorrect("multiple_choice", { query: "", choices: ["a", "b"], gold: 1 }, b, rows), true);
  assert.equal(predict("multiple_choice", b, [{ loss: [0, 0, 0.9, 0], argmax: [] }, rows[1]]), 0);

  const lm = { tokens: [[0, 5, 6, 7, 8]], start: [3], end: [5] };
  assert.equal(predict("language_modeling", lm, [{ loss: [], argmax: [5, 6, 7, 8, 1] }]), 1);
  assert.equal(predict("language_modeling", lm, [{ loss: [], argmax: [5, 6, 7, 9, 8] }]), 0); // the last continuation token missed
  assert.equal(predict("language_modeling", lm, [{ loss: [], argmax: [5, 9, 7, 8, 1] }]), 1); // a context miss does not count
});

Deno.test("core: few-shot draws match CPython, exclude the item itself; long rows are cropped from the left", () => {
  // random.Random(1234 + 5).sample([i for i in range(30) if i != 5], 10)
  assert.deepEqual(fewshotIndices(30, 5, 10), [2, 9, 15, 0, 1, 3, 16, 23, 21, 6]);
  assert.deepEqual(fewshotIndices(30, 5, 0), []);
  for (let i = 0; i < 6; i++) assert.ok(!fewshotIndices(6, i, 5).includes(i));
  assert.throws(() => fewshotIndices(3, 0, 3), /3 few-shot examples asked of a task with 3 items/);
  const c = cropBatch({ tokens: [[0, 1, 2, 3, 4, 5], [0, 1, 2]], start: [4, 2], end: [6, 3] }, 4);
  assert.deepEqual(c, { tokens: [[2, 3, 4, 5], [0, 1, 2]], start: [2, 2], end: [4, 3] });
  assert.throws(() => cropBatch({ tokens: [[0, 1, 2, 3, 4, 5]], start: [2], end: [6] }, 4), /does not fit 4 positions/);
});

Deno.test("core: centred accuracy uses the random baseline in percent; CORE is the mean over tasks", () => {
  assert.ok(Math.abs(centeredAccuracy(0.5, 25) - 1 / 3) < 1e-15);
  assert.equal(centeredAccuracy(0.25, 25), 0);
  assert.equal(centeredAccuracy(0.3, 0), 0.3);
  const r = coreMetric([{ label: "a", accuracy: 0.5, randomBaseline: 25 }, { label: "b", accuracy: 0.6, randomBaseline: 50 }]);
  assert.ok(Math.abs(r.centered.b - 0.2) < 1e-15);
  assert.ok(Math.abs(r.core - (1 / 3 + 0.2) / 2) < 1e-15);
  assert.throws(() => coreMetric([]), /at least one task/);
});

// The whole per-task loop on the fixture bundle (tests/fixtures/core/), scored by a model
// whose answers are known (the next-character rule of tests/fixtures/core/bigram.ts).

Deno.test("core: each task type of the fixture bundle scores its hand-made answers; centring uses the bundle's CSV baselines; CORE is their mean", async () => {
  const { tasks } = await loadCoreBundle(`${FIXTURE_DIR}/eval_bundle`);
  for (const rows of [1, 4, 64]) {
    const model = bigramRowModel(24, rows); // 24 positions: the few-shot LM rows are cropped from the left
    const { results, core } = await evaluateCore(tasks, charEncode, model);
    const want = Object.entries(EXPECTED).map(([label, e]) => {
      const acc = e.correct / e.total, b = e.baseline / 100;
      return { label, correct: e.correct, total: e.total, random_baseline: e.baseline, centered: (acc - b) / (1 - b) };
    });
    assert.deepEqual(results.map((r) => ({ label: r.label, correct: r.correct, total: r.total, random_baseline: r.random_baseline, centered: r.centered })), want);
    assert.ok(Math.abs(core - want.reduce((s, w) => s + w.centered, 0) / 3) < 1e-12);
    assert.equal(model.rowsSeen, 3 + 2 + 2 + 4 * 2 + 5); // every choice / option / LM row scored once
  }
  const { results, core } = await evaluateCore(tasks, charEncode, bigramRowModel(24));
  assert.match(coreTable(results, core), /\| toy_choice \| multiple_choice \| 1 \| 66\.67% \(2\/3\) \| 0\.5556 \|/);
});

Deno.test("core: items are shuffled with CPython's Random(1337) before --max-per-task keeps the first ones", () => {
  // random.Random(1337).shuffle(list(range(10)))
  assert.deepEqual(coreItemOrder(Array.from({ length: 10 }, (_, i) => i)), [0, 3, 7, 2, 1, 6, 4, 5, 8, 9]);
  assert.deepEqual(coreItemOrder(Array.from({ length: 30 }, (_, i) => i), 5), [4, 7, 28, 0, 2]);
});
