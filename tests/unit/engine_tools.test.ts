// The tool state machine of one sequence (src/engine/tools.ts) with a character-level
// tokenizer: what starts, ends and forces a calculator call.
import assert from "node:assert/strict";
import { RowState, type ToolTokenizer, toolTokens } from "../../src/engine/tools.ts";

const SPECIALS = ["<|bos|>", "<|assistant_end|>", "<|python_start|>", "<|python_end|>", "<|output_start|>", "<|output_end|>"];
/** Specials are ids 0–5; every other character is its code point + 100. */
const CHARS: ToolTokenizer = {
  specialId: (name) => SPECIALS.indexOf(name),
  encodeOrdinary: (text) => Array.from(text, (c) => c.codePointAt(0)! + 100),
  decode: (ids) => ids.map((i) => (i < 100 ? SPECIALS[i] : String.fromCodePoint(i - 100))).join(""),
};
const ids = toolTokens(CHARS);

function drain(row: RowState): number[] {
  const out: number[] = [];
  for (let t = row.nextForced(); t !== null; t = row.nextForced()) {
    out.push(t);
    row.push(t);
  }
  return out;
}

Deno.test("tools: python_end evaluates what came since python_start and forces the output; a stray python_end afterwards does nothing", () => {
  const row = new RowState(CHARS, ids);
  for (const t of [ids.pythonStart, ...CHARS.encodeOrdinary("6*7"), ids.pythonEnd]) row.push(t);
  assert.deepEqual(row.lastCall, { expression: "6*7", ok: true, output: "42" });
  assert.equal(CHARS.decode(drain(row)), "<|output_start|>42<|output_end|>");
  row.lastCall = null;
  // The model writes more text and a python_end with no python_start: not a call.
  for (const t of [...CHARS.encodeOrdinary("1+1"), ids.pythonEnd]) row.push(t);
  assert.equal(row.lastCall, null);
  assert.equal(row.nextForced(), null);
  assert.equal(row.done, false);
});

Deno.test("tools: a second call evaluates only its own expression", () => {
  const row = new RowState(CHARS, ids);
  for (const expr of ["2+3", "10-4"]) {
    for (const t of [ids.pythonStart, ...CHARS.encodeOrdinary(expr), ids.pythonEnd]) row.push(t);
    drain(row);
  }
  assert.deepEqual(row.lastCall, { expression: "10-4", ok: true, output: "6" });
});

Deno.test("tools: assistant_end and bos end the sequence", () => {
  for (const end of [ids.assistantEnd, ids.bos]) {
    const row = new RowState(CHARS, ids);
    row.push(CHARS.encodeOrdinary("a")[0]);
    assert.equal(row.done, false);
    row.push(end);
    assert.equal(row.done, true);
  }
});
