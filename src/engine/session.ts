// A conversation with a model: what `deno task chat` and the lab's chat view share.
//
//   chat      (mid/sft/rl checkpoints) the history is rendered as nanochat's chat format,
//             the model writes the assistant turn, tool calls included, and the turn is
//             kept (with its tool parts) and rendered again as part of the next prompt;
//   complete  (base checkpoints) each prompt is <|bos|> + text and the model continues it.
// Replies stream as pieces: text, a calculator expression the model writes (tool_call),
// and the result the engine forces back (tool_output).
import type { Gpu } from "../gpu/device.ts";
import type { FileStore } from "../io/files.ts";
import { type ContentPart, type Message, renderForCompletion } from "../tokenizer/chat.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { type CheckpointMeta, loadCheckpointFromStore } from "../formats/checkpoint.ts";
import { Engine, EngineError, type EngineOptions } from "./engine.ts";

export type ChatMode = "chat" | "complete";

/**
 * Why a reply ended: the model wrote its end token (`end`), it reached maxTokens
 * (`max_tokens`), prompt + reply filled the model's context (`context_full`), or the
 * caller's signal stopped it (`stopped`).
 */
export type StopReason = "end" | "max_tokens" | "context_full" | "stopped";

export interface ReplyPiece {
  kind: "text" | "tool_call" | "tool_output";
  /** Text added by this piece (decoded incrementally: a character split over tokens arrives whole). */
  text: string;
  tokens: number[];
}

export interface ReplyOptions {
  temperature: number;
  topK?: number;
  maxTokens: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface LoadedChatModel {
  engine: Engine;
  tokenizer: Tokenizer;
  meta: CheckpointMeta;
  /** complete for base checkpoints, chat otherwise. */
  defaultMode: ChatMode;
  destroy(): void;
}

/** Loads a checkpoint's weights (not its optimizer state) and a tokenizer through a FileStore. */
export async function loadChatModel(
  gpu: Gpu, store: FileStore, paths: { checkpointDir: string; tokenizerDir: string }, opts: EngineOptions = {},
): Promise<LoadedChatModel> {
  const ckpt = await loadCheckpointFromStore(store, paths.checkpointDir, { withOptimizer: false });
  // Chat reads tokenizer.json only: the browser would fetch tokenizer.tiktoken and
  // token_bytes.json just to check them (training and eval check them when they load it).
  const tokenizer = await loadTokenizer(store, paths.tokenizerDir, { checkDerived: false });
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tokenizer.hash) {
    throw new EngineError(
      `${paths.checkpointDir} was trained with tokenizer ${ckpt.meta.tokenizer.hash.slice(0, 12)}…, but ${paths.tokenizerDir} holds ` +
        `${tokenizer.hash.slice(0, 12)}…: use the tokenizer saved in the run directory (runs/<run>/tokenizer)`,
    );
  }
  if (tokenizer.vocabSize !== ckpt.cfg.vocab_size) {
    throw new EngineError(`${paths.tokenizerDir} has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${ckpt.cfg.vocab_size}`);
  }
  // An MXFP4 copy stays MXFP4 on the GPU (its matmuls read the blocks) unless told otherwise.
  const engine = await Engine.create(gpu, ckpt.cfg, ckpt.params, tokenizer, { mxfp4: ckpt.mxfp4, ...opts });
  const stage = ckpt.meta.stage || "base";
  return { engine, tokenizer, meta: ckpt.meta, defaultMode: stage === "base" ? "complete" : "chat", destroy: () => engine.destroy() };
}

export class ChatSession {
  /** The conversation so far (chat mode). */
  readonly messages: Message[] = [];
  readonly mode: ChatMode;
  /** A system prompt (chat mode): rendered before the conversation, folded into its first user message as nanochat's format does. */
  system = "";
  /** Why the last reply ended, and how many tokens of the context its prompt and reply took. */
  lastStop: StopReason | null = null;
  lastContextTokens = 0;

  constructor(readonly model: LoadedChatModel, mode?: ChatMode) {
    this.mode = mode ?? model.defaultMode;
  }

  reset(): void {
    this.messages.length = 0;
    this.lastStop = null;
    this.lastContextTokens = 0;
  }

  /** The model's context (prompt + reply) in tokens. */
  get capacity(): number {
    return this.model.engine.capacity;
  }

  /** Keeps the first `exchanges` user/assistant exchanges of the history (to regenerate or edit a later one). */
  truncate(exchanges: number): void {
    if (!Number.isInteger(exchanges) || exchanges < 0) throw new EngineError(`truncate: exchanges must be a non-negative integer, got ${exchanges}`);
    this.messages.length = Math.min(this.messages.length, 2 * exchanges);
  }

  /** The prompt tokens for the next reply to `userText`. */
  promptFor(userText: string): number[] {
    const tok = this.model.tokenizer;
    if (this.mode === "complete") return [tok.bosId, ...tok.encodeOrdinary(userText)];
    const system: Message[] = this.system.trim() ? [{ role: "system", content: this.system }] : [];
    const conversation = { messages: [...system, ...this.messages, { role: "user" as const, content: userText }, { role: "assistant" as const, content: "" }] };
    return renderForCompletion(tok, conversation, Number.MAX_SAFE_INTEGER);
  }

  /** Streams the reply; in chat mode the turn joins the history once it ends (also when stopped). */
  async *reply(userText: string, opts: ReplyOptions): AsyncGenerator<ReplyPiece> {
    const tok = this.model.tokenizer;
    const sp = (n: string) => tok.specialId(n);
    const prompt = this.promptFor(userText);
    const parts: ContentPart[] = [];
    let kind: ReplyPiece["kind"] = "text";
    let decoder = new TextDecoder();
    const append = (k: ContentPart["type"], text: string) => {
      const last = parts[parts.length - 1];
      if (last && last.type === k) last.text += text;
      else parts.push({ type: k, text });
    };
    const partType = { text: "text", tool_call: "python", tool_output: "python_output" } as const;
    let generated = 0, ended = false;
    try {
      for await (const col of this.model.engine.generate(prompt, { ...opts, numSamples: 1 })) {
        const t = col.tokens[0];
        generated++;
        if (col.done[0]) {
          ended = true;
          break;
        }
        if (t === sp("<|python_start|>") || t === sp("<|output_start|>")) {
          kind = t === sp("<|python_start|>") ? "tool_call" : "tool_output";
          decoder = new TextDecoder();
          append(partType[kind], "");
          continue;
        }
        if (t === sp("<|python_end|>") || t === sp("<|output_end|>")) {
          kind = "text";
          decoder = new TextDecoder();
          continue;
        }
        if (tok.isSpecial(t)) continue; // another special mid-reply: not text, and not a turn boundary
        const text = decoder.decode(tok.decodeBytes([t]), { stream: true });
        append(partType[kind], text);
        yield { kind, text, tokens: [t] };
      }
    } finally {
      // The engine's last token can be one past the cache (it is returned, never fed back).
      this.lastContextTokens = Math.min(this.capacity, prompt.length + generated);
      // The engine ends a reply only at its end token, the caller's stop, maxTokens, or a full cache.
      this.lastStop = ended ? "end" : opts.signal?.aborted ? "stopped" : generated >= opts.maxTokens ? "max_tokens" : "context_full";
      if (this.mode === "chat") {
        const content = parts.every((p) => p.type === "text") ? parts.map((p) => p.text).join("") : parts;
        this.messages.push({ role: "user", content: userText }, { role: "assistant", content });
      }
    }
  }
}
