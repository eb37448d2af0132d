// ChatSession's reply stream over a scripted engine (no GPU): pieces by kind, characters
// split over tokens arriving whole, a dangling partial character not leaking into the
// calculator call that follows, and the turn kept with its tool parts in chat mode.
import assert from "node:assert/strict";
import type { Engine, GeneratedColumn } from "../../src/engine/engine.ts";
import { ChatSession, type LoadedChatModel, type ReplyPiece } from "../../src/engine/session.ts";
import type { CheckpointMeta } from "../../src/formats/checkpoint.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";

const tok = new Tokenizer([]); // bytes + nanochat's specials
const sp = (n: string) => tok.specialId(n);
const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

function scripted(tokens: number[]): LoadedChatModel {
  const engine = {
    async *generate(): AsyncGenerator<GeneratedColumn> {
      for (const t of tokens) yield { tokens: [t], forced: [false], done: [false], calls: [null], active: [true] };
      yield { tokens: [sp("<|assistant_end|>")], forced: [false], done: [true], calls: [null], active: [true] };
    },
  } as unknown as Engine;
  return { engine, tokenizer: tok, meta: {} as CheckpointMeta, defaultMode: "chat", destroy: () => {} };
}

async function reply(tokens: number[]) {
  const session = new ChatSession(scripted(tokens));
  const pieces: ReplyPiece[] = [];
  for await (const p of session.reply("hi", { temperature: 0, maxTokens: 64 })) pieces.push(p);
  const joined = (kind: ReplyPiece["kind"]) => pieces.filter((p) => p.kind === kind).map((p) => p.text).join("");
  return { session, pieces, text: joined("text"), call: joined("tool_call"), output: joined("tool_output") };
}

Deno.test("session: a reply's text, calculator call and output arrive as their own pieces; split characters arrive whole", async () => {
  const r = await reply([
    ...bytes("é is "), sp("<|python_start|>"), ...bytes("6*7"), sp("<|python_end|>"),
    sp("<|output_start|>"), ...bytes("42"), sp("<|output_end|>"), ...bytes(" ✓"),
  ]);
  assert.equal(r.text, "é is  ✓");
  assert.equal(r.call, "6*7");
  assert.equal(r.output, "42");
  assert.equal(r.pieces[0].text, ""); // the first byte of é is held back…
  assert.equal(r.pieces[1].text, "é"); // …and arrives with the second
  assert.deepEqual(r.session.messages[1], {
    role: "assistant",
    content: [{ type: "text", text: "é is " }, { type: "python", text: "6*7" }, { type: "python_output", text: "42" }, { type: "text", text: " ✓" }],
  });
});

Deno.test("session: a partial character left before a tool call is dropped, not glued onto the call", async () => {
  const r = await reply([...bytes("a"), bytes("é")[0], sp("<|python_start|>"), ...bytes("1+1"), sp("<|python_end|>"), bytes("é")[0], ...bytes("b")]);
  assert.equal(r.call, "1+1");
  assert.equal(r.text, "a\uFFFDb"); // after the call a new decoder sees a lone lead byte, then b
});
