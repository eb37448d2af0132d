// SmolTalk (HuggingFaceTB/smol-smoltalk, splits train/test): general chat conversations,
// the bulk of mid-training and part of SFT. A training task (no evaluation): each row's
// `messages` (a list of {content, role} structs) is the conversation as it is, an
// optional leading system message included (the renderer folds it into the first user
// message).
//
// Every row is checked when the task is built: after the optional system message the
// roles must alternate user, assistant, ... with string contents, at least one exchange.
// A row that breaks this is rejected by name rather than trained on.
import type { Message } from "./common.ts";
import { Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";

/** Names row i in error messages: a file (rows are numbered from 0), or a function saying it all. */
export type RowSource = string | ((row: number) => string);

export interface SmolTalkOptions extends TaskSlice {
  source?: RowSource;
  /** Shown in logs and mixtures; default "SmolTalk". */
  name?: string;
}

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v);

function where(source: RowSource | undefined, row: number): string {
  if (typeof source === "function") return source(row);
  return `${source ?? "SmolTalk"} row ${row}`;
}

/**
 * `value` as a conversation's messages, or a TaskError starting with `at` that names the
 * message at fault. Roles alternate user, assistant, ... (after one leading system
 * message where allowSystem), with at least a user and an assistant message.
 */
export function checkMessages(value: unknown, at: string, opts: { allowSystem: boolean }): Message[] {
  const rule = `messages alternate user, assistant, ...${opts.allowSystem ? " after an optional system message" : ""}`;
  if (!Array.isArray(value)) throw new TaskError(`${at}: expected a list of messages {role, content}, got ${kind(value)}`);
  const system = opts.allowSystem && (value[0] as { role?: unknown } | undefined)?.role === "system" ? 1 : 0;
  const out: Message[] = [];
  value.forEach((m: unknown, i) => {
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw new TaskError(`${at}: message ${i} is ${kind(m)}, not an object {role, content}`);
    const { role, content } = m as Record<string, unknown>;
    const expected = i < system ? "system" : (i - system) % 2 === 0 ? "user" : "assistant";
    if (role !== expected) {
      const got = typeof role === "string" ? `role '${role}'` : role === undefined ? "no 'role'" : `role ${kind(role)}`;
      throw new TaskError(`${at}: message ${i} has ${got}, expected '${expected}' (${rule})`);
    }
    if (typeof content !== "string") throw new TaskError(`${at}: message ${i} (${role}) has content ${kind(content)}, expected a string`);
    out.push({ role: expected, content });
  });
  const turns = out.filter((m) => m.role !== "system").length;
  if (turns < 2) throw new TaskError(`${at}: has ${turns} user/assistant message${turns === 1 ? "" : "s"}, needs at least 2 (${rule})`);
  return out;
}

export class SmolTalk extends Task {
  readonly name: string;
  readonly evalType = "generative" as const;
  private readonly conversations: Message[][];

  constructor(rows: readonly Record<string, unknown>[], opts: SmolTalkOptions = {}) {
    super(opts);
    this.name = opts.name ?? "SmolTalk";
    this.conversations = rows.map((r, i) => {
      const at = where(opts.source, i);
      if (!("messages" in r)) throw new TaskError(`${at}: no field 'messages'; is it a HuggingFaceTB/smol-smoltalk parquet file?`);
      return checkMessages(r.messages, `${at}: field 'messages'`, { allowSystem: true });
    });
  }

  numExamples(): number {
    return this.conversations.length;
  }

  protected getExample(index: number): TaskExample {
    return { messages: this.conversations[index].map((m) => ({ ...m })) };
  }
}
