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

/** An engine that yields `tokens` and then either its end token (`end`) or nothing more (a full cache, or maxTokens). */
function engineOf(tokens: number[], end: boolean, capacity: number): LoadedChatModel {
  const engine = {
    capacity,
    async *generate(_prompt: number[], opts: { signal?: AbortSignal }): AsyncGenerator<GeneratedColumn> {
      for (const t of tokens) {
        if (opts.signal?.aborted) return;
        yield { tokens: [t], forced: [false], done: [false], calls: [null], active: [true] };
      }
      if (end) yield { tokens: [sp("<|assistant_end|>")], forced: [false], done: [true], calls: [null], active: [true] };
    },
  } as unknown as Engine;
  return { engine, tokenizer: tok, meta: {} as CheckpointMeta, defaultMode: "chat", destroy: () => {} };
}

async function stopOf(model: LoadedChatModel, maxTokens: number, abortAfter = Infinity) {
  const session = new ChatSession(model);
  const prompt = session.promptFor("hi").length;
  const abort = new AbortController();
  let n = 0;
  for await (const _ of session.reply("hi", { temperature: 0, maxTokens, signal: abort.signal })) if (++n >= abortAfter) abort.abort();
  return { stop: session.lastStop, used: session.lastContextTokens, prompt };
}

Deno.test("session: why a reply stopped — its end token, maxTokens, a full context, the caller's signal — and the context it used", async () => {
  const end = await stopOf(engineOf(bytes("ok"), true, 100), 10);
  assert.deepEqual(end, { stop: "end", used: end.prompt + 3, prompt: end.prompt }); // 2 tokens + the end token
  const max = await stopOf(engineOf(bytes("abcd"), false, 100), 4);
  assert.deepEqual([max.stop, max.used], ["max_tokens", max.prompt + 4]);
  // Fewer than maxTokens and no end token: the engine stopped because the cache was full.
  const full = await stopOf(engineOf(bytes("abc"), false, max.prompt + 3), 10);
  assert.deepEqual([full.stop, full.used], ["context_full", full.prompt + 3]);
  const stopped = await stopOf(engineOf(bytes("abcdef"), true, 100), 10, 2);
  assert.deepEqual([stopped.stop, stopped.used], ["stopped", stopped.prompt + 2]);
});

Deno.test("session: a system prompt is folded into the first user message; truncate keeps the first exchanges", async () => {
  const session = new ChatSession(engineOf(bytes("ok"), true, 100));
  session.system = "Be brief.";
  const folded = new ChatSession(engineOf([], true, 100)).promptFor("Be brief.\n\nhi");
  assert.deepEqual(session.promptFor("hi"), folded);
  for (const q of ["one", "two", "three"]) for await (const _ of session.reply(q, { temperature: 0, maxTokens: 8 })) { /* drain */ }
  assert.equal(session.messages.length, 6);
  session.truncate(1);
  assert.deepEqual(session.messages.map((m) => m.content), ["one", "ok"]);
  assert.throws(() => session.truncate(-1), /non-negative integer/);
  session.truncate(0); // editing the first question keeps nothing
  assert.equal(session.messages.length, 0);
  session.reset();
  assert.deepEqual([session.messages.length, session.lastStop, session.lastContextTokens], [0, null, 0]);
});
