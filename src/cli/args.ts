// Shared command-line parsing for every `deno task` entry point.
// Each command declares its flags once (name, type, default, help); the same
// table drives parsing, validation and the --help text, so they never drift.
import { parseArgs } from "node:util";
import { errorMessage, isUserError, UserError } from "../util/errors.ts";

export type FlagType = "string" | "number" | "boolean";

export interface FlagSpec {
  type: FlagType;
  default?: string | number | boolean;
  help: string;
  short?: string;
  /** Number flags: the range a given value must lie in, checked at parse time (before any GPU work). */
  min?: number;
  max?: number;
  /** Number flags: whole numbers only. */
  integer?: boolean;
  /** Number flags: one value outside [min, max] that still means something (e.g. -1: "all", "off"). */
  unset?: number;
}

/** Why `value` does not fit `spec`'s range, or null when it does. */
function outOfRange(spec: FlagSpec, value: number): string | null {
  if (spec.unset !== undefined && value === spec.unset) return null;
  const bad = (spec.integer && !Number.isInteger(value)) || (spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max);
  if (!bad) return null;
  const kind = spec.integer ? "an integer" : "a number";
  const range = spec.min !== undefined && spec.max !== undefined ? ` from ${spec.min} to ${spec.max}`
    : spec.min !== undefined ? ` ≥ ${spec.min}` : spec.max !== undefined ? ` ≤ ${spec.max}` : "";
  return `must be ${kind}${range}${spec.unset !== undefined ? ` (or ${spec.unset})` : ""}`;
}

export type FlagTable = Record<string, FlagSpec>;

export type ParsedFlags<T extends FlagTable> = {
  [K in keyof T]: T[K]["type"] extends "number" ? number
    : T[K]["type"] extends "boolean" ? boolean
    : string;
};

/** Thrown for bad command-line input; entry points print the message, not a stack. */
export class UsageError extends UserError {
  override name = "UsageError";
}

export function helpText(command: string, summary: string, flags: FlagTable, positional = ""): string {
  const lines = [`usage: deno task ${command}${positional ? " " + positional : ""} [flags]`, "", summary, "", "flags:"];
  const rows = Object.entries(flags).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "";
    const value = spec.type === "boolean" ? "" : ` <${spec.type}>`;
    const dflt = spec.default === undefined ? "" : ` (default: ${JSON.stringify(spec.default)})`;
    return [`  ${short}--${name}${value}`, spec.help + dflt];
  });
  rows.push(["  -h, --help", "show this help"]);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [left, right] of rows) lines.push(left.padEnd(width) + right);
  return lines.join("\n");
}

/**
 * Parses `args` against `flags`. Returns null when --help was asked for (after printing it).
 * Unknown flags and values of the wrong type raise UsageError naming the flag.
 */
export function parseFlags<T extends FlagTable>(
  args: string[],
  command: string,
  summary: string,
  flags: T,
  positional = "",
): { flags: ParsedFlags<T>; positionals: string[] } | null {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = { type: spec.type === "boolean" ? "boolean" : "string", ...(spec.short ? { short: spec.short } : {}) };
  }
  // node:util reads "--every -1" as a flag without a value; join negative numbers to
  // their number flag ("--every=-1") so users can type them the natural way.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : "";
    if (flags[name]?.type === "number" && /^-\d/.test(args[i + 1] ?? "")) {
      joined.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else {
      joined.push(args[i]);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nrun 'deno task ${command} --help' for the list of flags`);
  }
  if (parsed.values.help) {
    console.log(helpText(command, summary, flags, positional));
    return null;
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(flags)) {
    const raw = parsed.values[name];
    if (raw === undefined) {
      out[name] = spec.default;
    } else if (spec.type === "number") {
      const value = Number(raw);
      if (raw === "" || !Number.isFinite(value)) {
        throw new UsageError(`--${name} expects a number, got ${JSON.stringify(raw)}`);
      }
      const why = outOfRange(spec, value);
      if (why) throw new UsageError(`--${name} ${why}, got ${raw}`);
      out[name] = value;
    } else {
      out[name] = raw;
    }
  }
  return { flags: out as ParsedFlags<T>, positionals: parsed.positionals };
}

/**
 * Runs a CLI main function: usage errors and other known errors print one clear
 * message and exit 1; unexpected errors also print their stack for debugging.
 */
export async function runMain(main: (args: string[]) => Promise<void> | void): Promise<void> {
  try {
    await main(Deno.args);
  } catch (err) {
    if (isUserError(err)) {
      console.error(`error: ${err.message}`);
    } else {
      console.error(`error: ${errorMessage(err)}`);
      if (Deno.env.get("NANOCHAT_DEBUG")) console.error((err as Error)?.stack);
      else console.error("(set NANOCHAT_DEBUG=1 for the stack trace)");
    }
    Deno.exit(1);
  }
}

/** How a user would type another task's command: "deno task train base --run x" for src/cli/train.ts. */
export function taskLine(script: string, args: readonly string[]): string {
  return `deno task ${script.replace(/^src\/cli\/|\.ts$/g, "")} ${args.join(" ")}`;
}

/** Another task's CLI (a path like src/cli/tok.ts) as a child Deno process. */
export function taskCommand(script: string, args: readonly string[], io: Pick<Deno.CommandOptions, "stdout" | "stderr" | "env" | "cwd">): Deno.Command {
  return new Deno.Command(Deno.execPath(), { args: ["run", "-A", new URL(`../../${script}`, import.meta.url).pathname, ...args], ...io });
}
