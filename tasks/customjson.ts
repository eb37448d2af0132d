// CustomJSON: conversations from a JSONL file, one JSON array of messages per line, e.g.
//
//   [{"role":"user","content":"Who made you?"},{"role":"assistant","content":"..."}]
//
// the format of the reference's identity_conversations.jsonl (synthetic chats that teach
// the model who it is). A training task: no evaluation. Built from the file's text, so it
// runs anywhere; the caller reads the file. Blank lines are skipped. Every line is
// checked when the task is built (valid JSON, an array, roles user, assistant, ...
// alternating, string contents) and an error names the file and the line (from 1, as
// editors count).
import type { Message } from "./common.ts";
import { Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";
import { checkMessages } from "./smoltalk.ts";

export interface CustomJsonOptions extends TaskSlice {
  /** The file the text came from, for error messages. */
  source?: string;
  /** Shown in logs and mixtures; default "CustomJSON". */
  name?: string;
}

const FORMAT = 'each line must be one JSON array of messages like [{"role":"user","content":"..."},{"role":"assistant","content":"..."}]';

/** The conversations of a JSONL text; throws a TaskError naming the file and line. */
export function parseConversationsJsonl(text: string, source = "conversations.jsonl"): Message[][] {
  const out: Message[][] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const at = `${source} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new TaskError(`${at}: not valid JSON (${(err as Error).message}); ${FORMAT}`);
    }
    if (!Array.isArray(value)) throw new TaskError(`${at}: is a JSON ${value === null ? "null" : typeof value}, not an array; ${FORMAT}`);
    out.push(checkMessages(value, at, { allowSystem: false }));
  });
  if (out.length === 0) throw new TaskError(`${source}: has no conversations (it is empty or all blank lines); ${FORMAT}`);
  return out;
}

export class CustomJSON extends Task {
  readonly name: string;
  readonly evalType = "generative" as const;
  private readonly conversations: Message[][];

  constructor(text: string, opts: CustomJsonOptions = {}) {
    super(opts);
    this.name = opts.name ?? "CustomJSON";
    this.conversations = parseConversationsJsonl(text, opts.source);
  }

  numExamples(): number {
    return this.conversations.length;
  }

  protected getExample(index: number): TaskExample {
    return { messages: this.conversations[index].map((m) => ({ ...m })) };
  }
}
