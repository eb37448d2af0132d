// Chat rendering: ids and loss mask for a conversation with a tool call, worked out by
// hand from the reference's rule table, with a merge-free tokenizer so that every text
// token is its UTF-8 byte and the specials are ids 256..264.
import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { type Conversation, renderConversation, renderForCompletion } from "../../src/tokenizer/chat.ts";

const bytesOnly = new Tokenizer([]);
// 256 <|bos|>  257 <|user_start|>  258 <|user_end|>  259 <|assistant_start|>  260 <|assistant_end|>
// 261 <|python_start|>  262 <|python_end|>  263 <|output_start|>  264 <|output_end|>

const TOOL_CONVERSATION: Conversation = {
  messages: [
    { role: "system", content: "Be" },
    { role: "user", content: "2+3?" },
    {
      role: "assistant",
      content: [
        { type: "text", text: "ok" },
        { type: "python", text: "2+3" },
        { type: "python_output", text: "5" },
        { type: "text", text: "=5" },
      ],
    },
  ],
};

Deno.test("chat: conversation with a python tool call -> exact ids and mask", () => {
  const { ids, mask } = renderConversation(bytesOnly, TOOL_CONVERSATION);
  // prettier-ignore
  const expected: [number[], number][] = [
    [[256], 0],                                  // <|bos|>
    [[257], 0],                                  // <|user_start|>
    [[66, 101, 10, 10, 50, 43, 51, 63], 0],      // "Be" + "\n\n" + "2+3?" (system folded into user)
    [[258], 0],                                  // <|user_end|>
    [[259], 0],                                  // <|assistant_start|>
    [[111, 107], 1],                             // "ok"
    [[261], 1],                                  // <|python_start|>
    [[50, 43, 51], 1],                           // "2+3"
    [[262], 1],                                  // <|python_end|>
    [[263], 0],                                  // <|output_start|>
    [[53], 0],                                   // "5" (tool output: not trained on)
    [[264], 0],                                  // <|output_end|>
    [[61, 53], 1],                               // "=5"
    [[260], 1],                                  // <|assistant_end|>
  ];
  assert.deepEqual(ids, expected.flatMap(([t]) => t));
  assert.deepEqual(mask, expected.flatMap(([t, m]) => t.map(() => m)));
  assert.deepEqual(ids, [256, 257, 66, 101, 10, 10, 50, 43, 51, 63, 258, 259, 111, 107, 261, 50, 43, 51, 262, 263, 53, 264, 61, 53, 260]);
  assert.deepEqual(mask, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
});

Deno.test("chat: several turns, string content, and special-token spellings stay text", () => {
  const { ids, mask } = renderConversation(bytesOnly, {
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: "yo" },
      { role: "user", content: "<|" },
      { role: "assistant", content: "k" },
    ],
  });
  assert.deepEqual(ids, [256, 257, 104, 105, 258, 259, 121, 111, 260, 257, 60, 124, 258, 259, 107, 260]);
  assert.deepEqual(mask, [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1]);
});

Deno.test("chat: rendering is cropped to maxTokens", () => {
  const full = renderConversation(bytesOnly, TOOL_CONVERSATION);
  const cut = renderConversation(bytesOnly, TOOL_CONVERSATION, 13);
  assert.deepEqual(cut.ids, full.ids.slice(0, 13));
  assert.deepEqual(cut.mask, full.mask.slice(0, 13));
});

Deno.test("chat: renderForCompletion drops the last assistant turn and opens a new one", () => {
  const ids = renderForCompletion(bytesOnly, TOOL_CONVERSATION);
  assert.deepEqual(ids, [256, 257, 66, 101, 10, 10, 50, 43, 51, 63, 258, 259]);
  // the input conversation is left as it was
  assert.equal(TOOL_CONVERSATION.messages.length, 3);
  assert.equal(TOOL_CONVERSATION.messages[1].content, "2+3?");
});

Deno.test("chat: with learned merges the text segments are the tokenizer's ordinary encodings", () => {
  const tok = Tokenizer.train(["ok ok 2+3 2+3=5 Be Be brief, ok?"], 300);
  const { ids, mask } = renderConversation(tok, TOOL_CONVERSATION);
  const sp = (s: string) => tok.specialId(s);
  const enc = (s: string) => tok.encodeOrdinary(s);
  const segments: [number[], number][] = [
    [[sp("<|bos|>"), sp("<|user_start|>"), ...enc("Be\n\n2+3?"), sp("<|user_end|>"), sp("<|assistant_start|>")], 0],
    [[...enc("ok"), sp("<|python_start|>"), ...enc("2+3"), sp("<|python_end|>")], 1],
    [[sp("<|output_start|>"), ...enc("5"), sp("<|output_end|>")], 0],
    [[...enc("=5"), sp("<|assistant_end|>")], 1],
  ];
  assert.deepEqual(ids, segments.flatMap(([t]) => t));
  assert.deepEqual(mask, segments.flatMap(([t, m]) => t.map(() => m)));
});

Deno.test("chat: malformed conversations are rejected with the reason", () => {
  const r = (messages: unknown) => () => renderConversation(bytesOnly, { messages } as Conversation);
  assert.throws(r([{ role: "assistant", content: "x" }]), /message 0 is from assistant, expected user/);
  assert.throws(r([{ role: "user", content: "a" }, { role: "user", content: "b" }]), /message 1 is from user, expected assistant/);
  assert.throws(r([{ role: "system", content: "s" }, { role: "assistant", content: "a" }]), /system message must be followed by a user message/);
  assert.throws(r([{ role: "user", content: [{ type: "text", text: "x" }] }]), /user message 0 must be a string/);
  assert.throws(r([{ role: "user", content: "q" }, { role: "assistant", content: [{ type: "image", text: "x" }] }]), /unknown part type "image"/);
  assert.throws(r([]), /no messages/);
  assert.throws(() => renderForCompletion(bytesOnly, { messages: [{ role: "user", content: "q" }] }), /last message must be from the assistant/);
  assert.throws(() => renderForCompletion(bytesOnly, { messages: [] }), /last message must be from the assistant/);
  // An assistant turn alone leaves nothing to prompt with.
  assert.throws(() => renderForCompletion(bytesOnly, { messages: [{ role: "assistant", content: "a" }] }), /no messages/);
});
