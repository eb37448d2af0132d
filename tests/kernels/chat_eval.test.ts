// Chat evaluation's wiring on the GPU (src/eval/chat.ts scoreChatTasks), categorical side:
// each problem's reply is the choice letter with the highest logit at the prompt's last
// position — checked against the float64 reference GPT on the same prompt, with prompts
// shorter than the context and longer ones (only their last sequence_len tokens count).
import assert from "node:assert/strict";
import { scoreChatTasks } from "../../src/eval/chat.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { renderForCompletion } from "../../src/tokenizer/chat.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { Rng } from "../../src/util/rng.ts";
import { type EvalType, Task, type TaskExample } from "../../tasks/common.ts";
import { refLogits, toFloat64Params } from "../reference/gpt.ts";
import { nudgedParams } from "./harness.ts";
import { testGpu } from "./gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const tok = new Tokenizer([]);
const CFG: GPTConfig = { sequence_len: 24, vocab_size: tok.vocabSize, n_layer: 1, n_head: 2, n_kv_head: 1, n_embd: 32 };
const LETTERS = ["A", "B", "C", "D"];

/** Multiple-choice problems of random text, 3 … 40 bytes; it records the reply it is asked to check. */
class Letters extends Task {
  readonly name = "letters";
  readonly evalType: EvalType = "categorical";
  readonly replies: string[] = [];
  private readonly texts: string[];
  constructor() {
    super();
    const rng = new Rng(4);
    this.texts = Array.from({ length: 12 }, (_, i) => Array.from({ length: 3 + ((i * 7) % 38) }, () => String.fromCharCode(97 + rng.int(26))).join(""));
  }
  numExamples() {
    return this.texts.length;
  }
  protected getExample(i: number): TaskExample {
    return { messages: [{ role: "user", content: this.texts[i] }, { role: "assistant", content: LETTERS[i % 4] }], letters: LETTERS };
  }
  override evaluate(ex: TaskExample, reply: string) {
    this.replies.push(reply);
    return reply === ex.messages[1].content;
  }
}

Deno.test({
  ...opts,
  name: "chat eval (categorical): the reply is the letter with the highest logit at the prompt's last position, the context's last tokens when it is longer (float64 reference)",
  fn: async () => {
    const gpu = await testGpu();
    const params = nudgedParams(CFG, 2, 1.0, 4);
    const task = new Letters();
    const [score] = await scoreChatTasks(gpu, CFG, params, tok, [{ name: "letters", task }], { maxProblems: 0, maxTokens: 4, maxBatch: 2 }, "test weights");
    const ref64 = toFloat64Params(CFG, params), letterIds = LETTERS.map((l) => tok.encodeOrdinary(l)[0]);
    const want: string[] = [];
    let long = 0;
    for (let i = 0; i < task.length; i++) {
      const ids = renderForCompletion(tok, task.example(i));
      const keep = ids.slice(Math.max(0, ids.length - CFG.sequence_len));
      if (ids.length > CFG.sequence_len) long++;
      const logits = refLogits(CFG, ref64, Int32Array.from(keep), 1, keep.length);
      const sorted = letterIds.map((id, k) => [logits[id], k]).sort((a, b) => b[0] - a[0]);
      assert.ok(sorted[0][0] - sorted[1][0] > 1e-4, `problem ${i}: the two best letters are ${sorted[0][0] - sorted[1][0]} apart, too close to tell`);
      want.push(LETTERS[sorted[0][1]]);
    }
    assert.ok(long >= 3 && long < task.length, `${long} of ${task.length} prompts are longer than the context`);
    assert.deepEqual(task.replies, want);
    assert.ok(new Set(want).size > 1, "the replies are not all one letter");
    const correct = want.filter((w, i) => w === LETTERS[i % 4]).length;
    assert.deepEqual(score, { task: "letters", correct, total: task.length, accuracy: correct / task.length });
  },
});
