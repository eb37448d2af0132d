// Conversations -> token ids and a loss mask, exactly as nanochat's render_conversation:
//
//   <|bos|>                                           mask 0
//   <|user_start|> user text <|user_end|>             mask 0
//   <|assistant_start|>                               mask 0
//   assistant text (a string, or "text" parts)        mask 1
//   <|python_start|> code <|python_end|>              mask 1   (part "python")
//   <|output_start|> output <|output_end|>            mask 0   (part "python_output")
//   <|assistant_end|>                                 mask 1
//
// Messages alternate user / assistant, starting with user. A leading system message is
// folded into the first user message as system + "\n\n" + user. Text is encoded as
// ordinary text, so a special token's spelling inside a message is just characters.
// The result is cropped to maxTokens (default 2048).

import { type Tokenizer, TokenizerError } from "./tokenizer.ts";

export type Role = "system" | "user" | "assistant";
export interface ContentPart {
  type: "text" | "python" | "python_output";
  text: string;
}
export interface Message {
  role: Role;
  content: string | ContentPart[];
}
export interface Conversation {
  messages: Message[];
}

export interface Rendered {
  ids: number[];
  /** 1 where the model is trained to predict the token, 0 elsewhere. */
  mask: number[];
}

export const DEFAULT_MAX_TOKENS = 2048;

function fail(what: string): never {
  throw new TokenizerError(`cannot render conversation: ${what}`);
}

/** The messages after folding a leading system message into the first user message. */
function foldSystem(messages: readonly Message[]): Message[] {
  if (messages.length === 0 || messages[0].role !== "system") return [...messages];
  const [system, user, ...rest] = messages;
  if (!user || user.role !== "user") fail("a system message must be followed by a user message");
  if (typeof system.content !== "string" || typeof user.content !== "string") fail("system and user messages must be strings");
  return [{ role: "user", content: system.content + "\n\n" + user.content }, ...rest];
}

export function renderConversation(tok: Tokenizer, conversation: Conversation, maxTokens = DEFAULT_MAX_TOKENS): Rendered {
  if (!conversation || !Array.isArray(conversation.messages)) fail("expected {messages: [...]}");
  const messages = foldSystem(conversation.messages);
  if (messages.length < 1) fail("it has no messages");
  const ids: number[] = [];
  const mask: number[] = [];
  const add = (tokens: number | readonly number[], m: 0 | 1) => {
    if (typeof tokens === "number") tokens = [tokens];
    for (const t of tokens) {
      ids.push(t);
      mask.push(m);
    }
  };
  const sp = (name: string) => tok.specialId(name);

  add(sp("<|bos|>"), 0);
  messages.forEach((message, i) => {
    const expected = i % 2 === 0 ? "user" : "assistant";
    if (message.role !== expected) fail(`message ${i} is from ${message.role}, expected ${expected} (messages alternate user/assistant)`);
    const content = message.content;
    if (message.role === "user") {
      if (typeof content !== "string") fail(`user message ${i} must be a string`);
      add(sp("<|user_start|>"), 0);
      add(tok.encodeOrdinary(content), 0);
      add(sp("<|user_end|>"), 0);
      return;
    }
    add(sp("<|assistant_start|>"), 0);
    if (typeof content === "string") {
      add(tok.encodeOrdinary(content), 1);
    } else if (Array.isArray(content)) {
      for (const part of content) {
        const value = tok.encodeOrdinary(part.text);
        if (part.type === "text") {
          add(value, 1);
        } else if (part.type === "python") {
          add(sp("<|python_start|>"), 1);
          add(value, 1);
          add(sp("<|python_end|>"), 1);
        } else if (part.type === "python_output") {
          add(sp("<|output_start|>"), 0);
          add(value, 0);
          add(sp("<|output_end|>"), 0);
        } else {
          fail(`unknown part type ${JSON.stringify((part as { type: unknown }).type)} in message ${i}`);
        }
      }
    } else {
      fail(`assistant message ${i} must be a string or a list of parts`);
    }
    add(sp("<|assistant_end|>"), 1);
  });
  return { ids: ids.slice(0, maxTokens), mask: mask.slice(0, maxTokens) };
}

/**
 * The prompt for the model to complete the last assistant turn: the conversation
 * without its final (assistant) message, then <|assistant_start|>.
 */
/** A prompt of at most `room` tokens: a longer one keeps its first token (<|bos|>) and its end, where the question is. */
export function keepPromptEnd(ids: number[], room: number): number[] {
  return ids.length > room ? [ids[0], ...ids.slice(ids.length - room + 1)] : ids;
}

export function renderForCompletion(tok: Tokenizer, conversation: Conversation, maxTokens = DEFAULT_MAX_TOKENS): number[] {
  const messages = conversation?.messages ?? [];
  if (messages.length === 0 || messages[messages.length - 1].role !== "assistant") {
    fail("the last message must be from the assistant (it is the one to complete)");
  }
  const { ids } = renderConversation(tok, { messages: messages.slice(0, -1) }, maxTokens);
  ids.push(tok.specialId("<|assistant_start|>"));
  return ids;
}

/** Debug view: each token's text, with masked-in tokens marked, e.g. for the lab UI. */
export function describeRendered(tok: Tokenizer, r: Rendered): string {
  return r.ids.map((id, i) => (r.mask[i] ? `[${tok.idToToken(id)}]` : tok.idToToken(id))).join("|");
}
