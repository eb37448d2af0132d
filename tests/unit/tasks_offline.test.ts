// The generated tasks (arithmetic, spelling, identity), the mixtures of the chat stages and
// the chat-eval scoring, on hand-written examples.
import assert from "node:assert/strict";
import { chatCore, evalCategorical, letterIds } from "../../src/eval/chat.ts";
import { evaluateCalculator } from "../../src/engine/calculator.ts";
import { renderConversation } from "../../src/tokenizer/chat.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { Arithmetic, makeProblem } from "../../tasks/arithmetic.ts";
import { extractHashAnswer, renderMultipleChoice, Task, TaskMixture, TaskSequence, type TaskExample } from "../../tasks/common.ts";
import { CustomJSON } from "../../tasks/customjson.ts";
import { buildMixture, IDENTITY_FILE } from "../../tasks/deno_mixtures.ts";
import { identityConversation } from "../../tasks/make_identity.ts";
import { SimpleSpelling, SpellingBee } from "../../tasks/spelling.ts";

const tok = new Tokenizer([]);

Deno.test("arithmetic: the answer calls the calculator with the problem's expression and ends with its output", () => {
  const t = new Arithmetic("train", 500);
  for (let i = 0; i < t.length; i++) {
    const ex = t.example(i);
    const [user, assistant] = ex.messages;
    assert.equal(user.role, "user");
    const parts = assistant.content as { type: string; text: string }[];
    assert.deepEqual(parts.map((p) => p.type), ["python", "python_output", "text"]);
    const calc = evaluateCalculator(parts[0].text);
    assert.ok(calc.ok && calc.value === parts[1].text, `${parts[0].text} = ${parts[1].text}`);
    assert.equal(parts[2].text, `\n#### ${parts[1].text}`);
    // every operand of the expression appears in the question, 2 to 4 digits
    for (const n of parts[0].text.split(/[+\-*]/)) {
      assert.match(n, /^\d{2,4}$/);
      assert.ok((user.content as string).includes(n), `${n} in "${user.content}"`);
    }
    assert.ok(Number(parts[1].text) >= 0);
  }
  // test problems come from other streams than train
  const train = new Set(Array.from({ length: 2000 }, (_, i) => makeProblem("train", i).question));
  const overlap = Array.from({ length: 200 }, (_, i) => makeProblem("test", i).question).filter((q) => train.has(q));
  assert.ok(overlap.length <= 1, `test questions seen in train: ${overlap}`);
});

Deno.test("arithmetic-long: the same phrasings over 3–5 digit operands (products of 3–4 by 3–4 digits), its own streams apart from standard's and from each other", () => {
  const t = new Arithmetic("test", 400, {}, "long");
  assert.equal(t.name, "arithmetic-long-test");
  const lengths = new Set<number>();
  let products = 0, fiveDigit = 0;
  for (let i = 0; i < t.length; i++) {
    const [user, assistant] = t.example(i).messages;
    const [call, output, text] = assistant.content as { type: string; text: string }[];
    const calc = evaluateCalculator(call.text);
    assert.ok(calc.ok && calc.value === output.text && text.text === `\n#### ${output.text}`);
    const operands = call.text.split(/[+\-*]/);
    const two = operands.length === 3;
    for (const n of operands) {
      assert.match(n, two || call.text.includes("*") ? /^\d{3,4}$/ : /^\d{3,5}$/, call.text);
      assert.ok((user.content as string).includes(n));
      lengths.add(n.length);
      if (n.length === 5) fiveDigit++;
    }
    if (!two && call.text.includes("*")) products++;
  }
  assert.deepEqual([...lengths].sort(), [3, 4, 5]);
  assert.ok(products > 60 && fiveDigit > 60, `${products} products, ${fiveDigit} five-digit operands`);
  // no long problem is a standard one, and long's test and train streams differ
  const standard = new Set(Array.from({ length: 2000 }, (_, i) => makeProblem("train", i).question).concat(Array.from({ length: 200 }, (_, i) => makeProblem("test", i).question)));
  const longTrain = new Set(Array.from({ length: 4000 }, (_, i) => makeProblem("train", i, "long").question));
  const longTest = Array.from({ length: 200 }, (_, i) => makeProblem("test", i, "long").question);
  assert.equal(longTest.filter((q) => standard.has(q)).length, 0);
  assert.ok(longTest.filter((q) => longTrain.has(q)).length <= 1);
  // the standard streams did not move when the levels came in (trained checkpoints' mid/SFT data and the held-out 200 unchanged)
  assert.deepEqual([0, 1, 2].map((i) => makeProblem("train", i).expr), ["736+830-84", "9882-17", "3100-455"]);
  assert.deepEqual([0, 1, 2].map((i) => makeProblem("test", i).expr), ["9653*311", "840*749-66", "299*78"]);
});

Deno.test("arithmetic: scoring reads the reply's '#### N' as GSM8K does (commas ignored, any text around)", () => {
  const ex: TaskExample = {
    messages: [
      { role: "user", content: "What is 37 times 91?" },
      { role: "assistant", content: [{ type: "python", text: "37*91" }, { type: "python_output", text: "3367" }, { type: "text", text: "\n#### 3367" }] },
    ],
  };
  const t = new Arithmetic("test", 1);
  assert.equal(t.evaluate(ex, "<|python_start|>37*91<|python_end|><|output_start|>3367<|output_end|>\n#### 3367<|assistant_end|>"), true);
  assert.equal(t.evaluate(ex, "the answer is\n#### 3,367"), true);
  assert.equal(t.evaluate(ex, "#### 3368"), false);
  assert.equal(t.evaluate(ex, "3367"), false);
  assert.equal(extractHashAnswer("x #### -1,234.5 y"), "-1234.5");
  assert.equal(extractHashAnswer("no answer"), null);
  // rendered, the calculator call is trained and its output is not
  const r = renderConversation(tok, t.example(0));
  const start = r.ids.indexOf(tok.specialId("<|python_start|>")), out = r.ids.indexOf(tok.specialId("<|output_start|>"));
  assert.equal(r.mask[start], 1);
  assert.equal(r.mask[out], 0);
  assert.equal(r.mask[out + 1], 0);
});

Deno.test("spelling: SimpleSpelling and SpellingBee on hand-written words", async () => {
  const simple = new SimpleSpelling(["cat"], "train", 3);
  assert.deepEqual(simple.example(0).messages, [{ role: "user", content: "Spell the word: cat" }, { role: "assistant", content: "cat:c,a,t" }]);
  assert.equal(simple.evaluate(simple.example(0), " cat:c,a,t "), true);
  assert.equal(simple.evaluate(simple.example(0), "cat:c,a"), false);

  const bee = new SpellingBee(["strawberry"], "train", 400);
  const i = [...Array(400).keys()].find((k) => /\br\b|letter r |\br's|\brs\b| r in /.test(bee.example(k).messages[0].content as string))!;
  const parts = bee.example(i).messages[1].content as { type: string; text: string }[];
  assert.equal(parts[0].text, [
    "We spell strawberry:s,t,r,a,w,b,e,r,r,y",
    "1:s", "2:t", "3:r hit! count=1", "4:a", "5:w", "6:b", "7:e", "8:r hit! count=2", "9:r hit! count=3", "10:y",
    "That makes 3. Let me check with the calculator:", "",
  ].join("\n"));
  assert.deepEqual(parts.slice(1, 3), [{ type: "python", text: "'strawberry'.count('r')" }, { type: "python_output", text: "3" }]);
  assert.equal(parts[3].text, "\nThe letter r appears 3 times.\n#### 3");
  assert.equal(await bee.reward(bee.example(i), "... #### 3"), 1);
  assert.equal(await bee.reward(bee.example(i), "#### 2"), 0);
});

Deno.test("identity: the committed conversations are what make_identity.ts writes, and load as CustomJSON", async () => {
  const text = await Deno.readTextFile(IDENTITY_FILE);
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 500);
  lines.forEach((l, i) => assert.equal(l, JSON.stringify(identityConversation(i)), `line ${i + 1} differs from the generator`));
  const t = new CustomJSON(text, { source: IDENTITY_FILE.pathname });
  assert.equal(t.length, 500);
  for (let k = 0; k < 20; k++) renderConversation(tok, t.example(k)); // every one renders (alternating roles)
});

class Letters extends Task {
  readonly name = "letters";
  readonly evalType = "categorical" as const;
  constructor(private n: number) {
    super();
  }
  numExamples() {
    return this.n;
  }
  protected getExample(i: number): TaskExample {
    return { messages: [{ role: "user", content: renderMultipleChoice(`q${i}`, ["x", "y", "z"], ["A", "B", "C"]) }, { role: "assistant", content: "ABC"[i % 3] }], letters: ["A", "B", "C"] };
  }
  override evaluate(ex: TaskExample, response: string) {
    return response === (ex.messages[1].content as string);
  }
}

Deno.test("chat eval: categorical picks the best-scoring choice letter at the last position; ChatCORE centres each task", async () => {
  assert.equal(renderMultipleChoice("Sky?", ["blue", "green"], ["A", "B"]), "Multiple Choice question: Sky?\n- blue=A\n- green=B\n\nRespond only with the letter of the correct answer.");
  const ids = letterIds(tok, ["A", "B", "C"]);
  assert.deepEqual(ids, [65, 66, 67]);
  // A fake model that always prefers B: 1 of 3 problems right; then one that is right twice.
  const prefer = (k: number) => () => Promise.resolve(Float32Array.from({ length: 265 }, (_, j) => (j === 65 + k ? 5 : j === 200 ? 9 : 0)));
  const s = await evalCategorical(new Letters(3), tok, prefer(1), 3);
  assert.deepEqual([s.correct, s.total], [1, 3]);
  // A model preferring the first letter (A, at index 0 of the choices) is right once too.
  assert.equal((await evalCategorical(new Letters(3), tok, prefer(0), 3)).correct, 1);
  assert.equal(chatCore([s]), null);
  const all = [["arc-easy", 0.5], ["arc-challenge", 0.25], ["mmlu", 0.25], ["gsm8k", 0.1], ["humaneval", 0], ["spelling-bee", 0.4]].map(([task, accuracy]) => ({ task: task as string, accuracy: accuracy as number, correct: 0, total: 1 }));
  assert.ok(Math.abs(chatCore(all)! - ((0.25 / 0.75) + 0 + 0 + 0.1 + 0 + 0.4) / 6) < 1e-12);
});

Deno.test("mixtures: the offline ones build, shuffle deterministically and hold each task's examples once per listing", async () => {
  const mid = await buildMixture("", "mid");
  assert.equal(mid.name, "offline-mid");
  assert.equal(mid.train.length, 6_300 + 150 + 75 + 200);
  const again = await buildMixture("offline-mid", "mid");
  for (const i of [0, 1, 777, mid.train.length - 1]) assert.deepEqual(again.train.example(i), mid.train.example(i));
  const m = mid.train as TaskMixture;
  const count = new Map<string, number>();
  for (let i = 0; i < m.length; i++) count.set(m.taskOf(i).name, (count.get(m.taskOf(i).name) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(count), { "arithmetic-train": 6_300, "simple-spelling": 150, "spelling-bee": 75, identity: 200 });
  // SFT's generated problems are the ones after mid's: none seen twice, none empty.
  const sft = await buildMixture("", "sft");
  const sm = sft.train as TaskMixture;
  const sftCount = new Map<string, number>();
  const sftArith: string[] = [];
  for (let i = 0; i < sm.length; i++) {
    const name = sm.taskOf(i).name;
    sftCount.set(name, (sftCount.get(name) ?? 0) + 1);
    if (name === "arithmetic-train") sftArith.push(JSON.stringify(sm.example(i)));
  }
  assert.deepEqual(Object.fromEntries(sftCount), { "arithmetic-train": 300, identity: 45, "simple-spelling": 22, "spelling-bee": 22 });
  const midArith = new Set(Array.from({ length: 6_300 }, (_, i) => JSON.stringify(new Arithmetic("train", 6_300).example(i))));
  assert.ok(sftArith.every((e) => !midArith.has(e)), "an SFT arithmetic problem repeats one of mid's");
  assert.ok(sftArith.includes(JSON.stringify(new Arithmetic("train", 6_301).example(6_300))));
  assert.throws(() => new TaskMixture([new Arithmetic("train", 10, { start: 10 })]), /has no examples: arithmetic-train \(does its slice start past its end\?\)/);
  let switches = 0;
  for (let i = 1; i < m.length; i++) if (m.taskOf(i) !== m.taskOf(i - 1)) switches++;
  assert.ok(switches > 500, `interleaved, not in blocks (${switches} task changes)`);
  await assert.rejects(buildMixture("offline-sft", "mid"), /is for sft, not mid/);
  await assert.rejects(buildMixture("nope", "sft"), /unknown mixture 'nope' for sft; the sft mixtures are: offline-sft, reference-sft/);
  await assert.rejects(buildMixture("reference-sft", "sft", { dataDir: "/nonexistent" }), /deno task data tasks --download/);
  const seq = new TaskSequence([new Arithmetic("test", 2), new Arithmetic("test", 3)]);
  assert.equal(seq.length, 5);
  assert.deepEqual(seq.example(3), new Arithmetic("test", 3).example(1));
});
