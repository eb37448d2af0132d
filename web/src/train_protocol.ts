// What the Train tab and its worker (train_worker.ts) say to each other, and the settings
// form's parsing (shared so the worker checks what the page sends).
import type { MetricsRecord } from "../../src/formats/metrics.ts";
import { RUN_CONFIG_SPECS, type RunConfig, RunConfigError, resolveRunConfig } from "../../src/train/run_config.ts";
import d12 from "../../configs/d12.ts";
import d20 from "../../configs/d20.ts";
import tiny from "../../configs/tiny.ts";

/** The base presets the page offers (configs/NAME.ts), tiny first: it is the one a software adapter trains in minutes. */
export const TAB_PRESETS: Record<string, Partial<RunConfig>> = { tiny, d12, d20 };

/** The Web Lock a worker holds while it trains a run (name = prefix + run): one writer per run across tabs. */
export const TRAIN_LOCK_PREFIX = "nanochat-train:";

export type ToWorker =
  | { type: "start"; run: string; preset: string; overrides: Partial<RunConfig> }
  | { type: "resume"; run: string }
  | { type: "stop" };

export type FromWorker =
  | { type: "line"; line: string }
  | { type: "record"; record: MetricsRecord }
  /** The run's records so far (a resume starts with those logged before its checkpoint). */
  | { type: "records"; records: MetricsRecord[] }
  | { type: "started"; run: string; numIterations: number; config: RunConfig }
  | { type: "checkpoint"; step: number }
  | { type: "done"; step: number; stopped: boolean }
  | { type: "error"; message: string };

/**
 * "depth=1 n_embd=32, vocab_size=512": run config fields over the preset, separated by spaces
 * or commas, each checked against the field's kind (ranges are checked when the config resolves).
 */
export function parseOverrides(text: string): Partial<RunConfig> {
  const out: Record<string, string | number> = {};
  for (const item of text.split(/[\s,]+/).filter(Boolean)) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new RunConfigError(`setting ${JSON.stringify(item)}: write field=value (e.g. num_iterations=20)`);
    const key = item.slice(0, eq).replaceAll("-", "_"), raw = item.slice(eq + 1);
    const spec = RUN_CONFIG_SPECS[key as keyof RunConfig];
    if (!spec) throw new RunConfigError(`setting ${JSON.stringify(key)} is not a run config field; the fields are ${Object.keys(RUN_CONFIG_SPECS).join(", ")}`);
    if (spec.kind === "string") {
      out[key] = raw;
      continue;
    }
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v) || (spec.kind === "int" && !Number.isInteger(v))) {
      throw new RunConfigError(`setting ${key}=${raw}: ${spec.kind === "int" ? "an integer" : "a number"} is needed`);
    }
    out[key] = v;
  }
  return out as Partial<RunConfig>;
}

/** The command that continues a downloaded run under Deno (after unzipping it into runs/). */
export function resumeCommand(run: string, preset: string, config: Partial<RunConfig>): string {
  const base = resolveRunConfig(TAB_PRESETS[preset] ?? {}).config;
  const skip = new Set(["run", "runs_dir", "data_dir", "tokenizer_dir"]);
  const flags = Object.entries(config)
    .filter(([k, v]) => !skip.has(k) && v !== (base as unknown as Record<string, unknown>)[k] && k in RUN_CONFIG_SPECS)
    .map(([k, v]) => `--${k.replaceAll("_", "-")} ${v}`);
  return `deno task train base --config ${preset} --run ${run}${flags.length ? " " + flags.join(" ") : ""} --resume`;
}
