// `deno task train`'s flags for every run-config field (kebab-case), generated from the
// same table that validates the config (RUN_CONFIG_SPECS), so flags, --help and
// validation cannot drift.
import { DEFAULT_RUN_CONFIG, RUN_CONFIG_FIELDS, RUN_CONFIG_SPECS, type RunConfig } from "../train/run_config.ts";
import type { FlagTable } from "./args.ts";

const kebab = (f: string) => f.replaceAll("_", "-");

/**
 * CLI flags for every field (kebab-case), defaults from `defaults`. Pass the preset merged
 * over DEFAULT_RUN_CONFIG so --help shows the values the run will use and an absent flag
 * keeps the preset's value. `config` names the preset.
 */
export function runConfigFlags(defaults: Partial<RunConfig> = DEFAULT_RUN_CONFIG): FlagTable {
  const d = { ...DEFAULT_RUN_CONFIG, ...defaults };
  const table: FlagTable = {
    config: { type: "string", default: "", help: "preset: a name under configs/ (tiny, d12, d20, dual_gpu/…) or a path to a .ts file" },
  };
  for (const f of RUN_CONFIG_FIELDS) {
    const s = RUN_CONFIG_SPECS[f];
    table[kebab(f)] = {
      type: s.kind === "string" ? "string" : "number", default: d[f], help: s.unset ? `${s.help}; ${s.unset[0]}: ${s.unset[1]}` : s.help,
      // The same range the config validation applies, so a bad flag fails while parsing.
      ...(s.kind === "string" ? {} : { min: s.min, max: s.max, integer: s.kind === "int", unset: s.unset?.[0] }),
    };
  }
  return table;
}

export const RUN_CONFIG_FLAGS: FlagTable = runConfigFlags();

/** Parsed flag values (kebab-case keys) → RunConfig overrides; `config` and unknown keys are left out. */
export function overridesFromFlags(values: Record<string, unknown>): Partial<RunConfig> {
  const out: Record<string, unknown> = {};
  for (const f of RUN_CONFIG_FIELDS) if (values[kebab(f)] !== undefined) out[f] = values[kebab(f)];
  return out as Partial<RunConfig>;
}

/** The value of --NAME in raw args (before the full parse, whose defaults depend on it). */
export function rawFlag(args: readonly string[], name: string): string | null {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1] ?? null;
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return null;
}

/** The value of --config in raw args (the preset, whose values are the other flags' defaults). */
export function presetArg(args: readonly string[]): string | null {
  return rawFlag(args, "config");
}
