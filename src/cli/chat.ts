// `deno task chat [--run NAME | --checkpoint DIR] [-p PROMPT] [--temperature T] [--top-k K]`:
// talk to a checkpoint in the terminal. With -p: one reply, printed to stdout, then exit.
// Without: an interactive conversation (/clear starts over, /quit or Ctrl-D leaves; Ctrl-C
// stops a reply being written). Base checkpoints continue text; chat checkpoints answer in
// nanochat's chat format and may call the calculator.
import { createInterface } from "node:readline";
import { ChatSession, type ChatMode, loadChatModel, type ReplyPiece, type StopReason } from "../engine/session.ts";
import { acquireGpu } from "../gpu/device.ts";
import { denoFiles } from "../io/deno_files.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";
import { CHECKPOINT_FLAGS, resolveCheckpointArgs } from "./checkpoint_args.ts";

const FLAGS = {
  ...CHECKPOINT_FLAGS,
  prompt: { type: "string", short: "p", default: "", help: "one-shot: reply to this prompt and exit" },
  temperature: { type: "number", default: 0.6, help: "sampling temperature (0 = greedy)", min: 0 },
  "top-k": { type: "number", default: 50, help: "sample among the k most likely tokens (0 = all)", min: 0, integer: true },
  "max-tokens": { type: "number", default: 256, help: "longest reply, in tokens", min: 1, integer: true },
  seed: { type: "number", default: 42, help: "sampling seed (each reply of a session uses seed + turn)", min: 0, integer: true },
  mode: { type: "string", default: "auto", help: "chat | complete | auto (complete for base checkpoints, chat otherwise)" },
  tokens: { type: "boolean", default: false, help: "after each reply, print its token ids to stderr" },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
} as const;

const SUMMARY = "Chat with a checkpoint on WebGPU (KV-cache engine, calculator tool).";
const enc = new TextEncoder();
const write = (s: string) => Deno.stdout.writeSync(enc.encode(s));
const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
const cyan = (s: string) => (color ? `\x1b[36m${s}\x1b[0m` : s);

/**
 * Writes pieces as they stream: tool calls as ⟦calculator: …⟧ and results as ⟦= …⟧
 * (dim/cyan on a terminal); with showTokens, the reply's token ids go to stderr at the end.
 */
function printer(showTokens: boolean): { piece(p: ReplyPiece): void; end(): void } {
  let open: ReplyPiece["kind"] = "text";
  const ids: number[] = [];
  const close = () => {
    if (open !== "text") write(cyan("⟧"));
    open = "text";
  };
  return {
    piece(p) {
      ids.push(...p.tokens);
      if (p.kind !== open) {
        close();
        if (p.kind === "tool_call") write(cyan("⟦calculator: "));
        if (p.kind === "tool_output") write(cyan("⟦= "));
        open = p.kind;
      }
      write(p.kind === "text" ? p.text : dim(p.text));
    },
    end() {
      close();
      if (showTokens) console.error(`tokens: ${ids.join(",")}`);
    },
  };
}

/** On stderr, why a reply ended when it was not the model's own end token. */
function stopNote(stop: StopReason | null, interactive = false): void {
  const why: Partial<Record<StopReason, string>> = {
    max_tokens: "(the reply reached --max-tokens; pass a larger one for longer replies)",
    context_full: `(the model's context is full${interactive ? ": /clear starts a new conversation" : ""})`,
    stopped: "(stopped)",
  };
  if (stop && why[stop]) console.error(dim(why[stop]!));
}

runMain(async (args) => {
  const parsed = parseFlags(args, "chat", SUMMARY, FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}' (a prompt goes after -p, in quotes)`);
  if (!["auto", "chat", "complete"].includes(f.mode)) throw new UsageError(`--mode must be chat, complete or auto, got '${f.mode}'`);
  if (!(f.temperature >= 0)) throw new UsageError(`--temperature must be ≥ 0, got ${f.temperature}`);
  if (!Number.isInteger(f["top-k"]) || f["top-k"] < 0) throw new UsageError(`--top-k must be a non-negative integer, got ${f["top-k"]}`);
  if (!Number.isInteger(f["max-tokens"]) || f["max-tokens"] < 1) throw new UsageError(`--max-tokens must be a positive integer, got ${f["max-tokens"]}`);
  if (!Number.isInteger(f.seed)) throw new UsageError(`--seed must be an integer, got ${f.seed}`);
  const paths = await resolveCheckpointArgs(f);
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  const model = await loadChatModel(gpu, denoFiles("."), paths, { maxBatch: 1 });
  const session = new ChatSession(model, f.mode === "auto" ? undefined : (f.mode as ChatMode));
  const info = `${paths.checkpointDir} (step ${model.meta.step}, ${model.meta.stage || "base"}) on ${gpu.description}; mode ${session.mode}`;
  const opts = (turn: number, signal?: AbortSignal) => ({
    temperature: f.temperature, topK: f["top-k"] || undefined, maxTokens: f["max-tokens"], seed: f.seed + turn, signal,
  });

  if (f.prompt) {
    console.error(dim(info));
    const out = printer(f.tokens);
    for await (const p of session.reply(f.prompt, opts(0))) out.piece(p);
    out.end();
    write("\n");
    stopNote(session.lastStop);
    model.destroy();
    return;
  }

  console.error(`${info}\n${dim("type a message; /clear starts over, /quit (or Ctrl-D) leaves, Ctrl-C stops a reply")}`);
  const tty = Deno.stdin.isTerminal();
  const rl = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  let closed = false;
  rl.on("close", () => (closed = true));
  let stop: AbortController | null = null;
  const onSigint = () => {
    if (stop) stop.abort();
    else Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSigint);
  let turn = 0;
  const prompt = session.mode === "chat" ? "you> " : "text> ";
  rl.setPrompt(prompt);
  const showPrompt = () => {
    if (tty && !closed) rl.prompt();
  };
  showPrompt();
  try {
    for await (const line of rl) {
      const text = line.trim();
      if (text === "/quit" || text === "/exit") break;
      if (text === "/clear") {
        session.reset();
        console.error(dim("(conversation cleared)"));
        showPrompt();
        continue;
      }
      if (!text) {
        showPrompt();
        continue;
      }
      if (!tty) write(`${prompt}${text}\n`);
      write(session.mode === "chat" ? "model> " : text);
      stop = new AbortController();
      const out = printer(f.tokens);
      try {
        for await (const p of session.reply(text, opts(turn++, stop.signal))) out.piece(p);
      } catch (err) {
        out.end();
        write("\n");
        console.error(`error: ${(err as Error).message}`);
        showPrompt();
        continue;
      } finally {
        stop = null;
      }
      out.end();
      write("\n");
      stopNote(session.lastStop, true);
      showPrompt();
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    rl.close();
    model.destroy();
  }
});
