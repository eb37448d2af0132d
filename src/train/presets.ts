// Run presets: configs/NAME.ts files that `export default` a partial RunConfig, loaded
// by name or by path and checked to resolve to a valid run before anything starts.
// Runtime-agnostic except the file lookups, which check for Deno first.
import { RL_SAMPLING, type RlSampling } from "./rl.ts";
import { checkKnownFields, resolveRunConfig, type RunConfig, RunConfigError } from "./run_config.ts";

/** The presets shipped in configs/ (a static list, so the browser can show them). */
export const BUILTIN_PRESETS = ["tiny", "d12", "d20", "d32", "dual_gpu/stable_26gb", "dual_gpu/tight_16gb", "dual_gpu/roomy_80gb"];
const CONFIGS_DIR = new URL("../../configs/", import.meta.url);

async function availablePresets(): Promise<string[]> {
  const names = new Set(BUILTIN_PRESETS);
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno || CONFIGS_DIR.protocol !== "file:") return [...names].sort();
  const walk = async (url: URL, prefix: string) => {
    for await (const e of deno.readDir(url)) {
      if (e.isDirectory) await walk(new URL(`${e.name}/`, url), `${prefix}${e.name}/`);
      else if (e.name.endsWith(".ts")) names.add(prefix + e.name.slice(0, -3));
    }
  };
  await walk(CONFIGS_DIR, "").catch(() => {});
  return [...names].sort();
}

/** Imports a preset module (configs/NAME.ts, or a path ending in .ts/.js). */
async function importPreset(nameOrPath: string): Promise<{ mod: Record<string, unknown>; where: string }> {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  const isPath = /\.(ts|js|mjs)$/.test(nameOrPath);
  let url: URL;
  if (isPath) {
    url = nameOrPath.startsWith("/") || !deno ? new URL(nameOrPath, "file:///") : new URL(nameOrPath, `file://${deno.cwd()}/`);
  } else if (/^[A-Za-z0-9_]+(\/[A-Za-z0-9_]+)*$/.test(nameOrPath)) {
    url = new URL(`${nameOrPath}.ts`, CONFIGS_DIR);
  } else {
    throw new RunConfigError(`preset ${JSON.stringify(nameOrPath)}: not a preset name or a .ts path; available presets: ${(await availablePresets()).join(", ")}`);
  }
  const missing = async () =>
    new RunConfigError(
      isPath ? `preset file ${nameOrPath} does not exist` : `unknown preset ${JSON.stringify(nameOrPath)}; available presets: ${(await availablePresets()).join(", ")} (or pass a path to a .ts file)`,
    );
  if (deno && url.protocol === "file:" && !(await deno.stat(url).then(() => true, () => false))) throw await missing();
  try {
    return { mod: await import(url.href), where: `${nameOrPath} (${url.pathname})` };
  } catch (err) {
    if (!deno) throw await missing();
    throw new RunConfigError(`preset ${nameOrPath} (${url.pathname}) failed to load: ${(err as Error).message}`);
  }
}

/**
 * A preset's default export, a partial RunConfig for pretraining, after checking that it
 * resolves to a valid run.
 */
export async function loadPresetConfig(nameOrPath: string): Promise<Partial<RunConfig>> {
  const { mod, where } = await importPreset(nameOrPath);
  const preset = mod.default;
  if (typeof preset !== "object" || preset === null || Array.isArray(preset)) {
    throw new RunConfigError(`preset ${where} must 'export default' an object of run config fields`);
  }
  try {
    resolveRunConfig(preset as Partial<RunConfig>);
  } catch (err) {
    throw new RunConfigError(`preset ${nameOrPath}: ${(err as Error).message}`);
  }
  return { ...(preset as Partial<RunConfig>) };
}

/**
 * A preset's settings for a chat stage: its `export const mid` / `export const sft`
 * (fields laid over the stage's reference defaults; {} when the preset has none).
 */
export async function loadStagePreset(nameOrPath: string, stage: "mid" | "sft" | "rl"): Promise<Partial<RunConfig>> {
  const { mod, where } = await importPreset(nameOrPath);
  const part = mod[stage];
  if (part === undefined) return {};
  if (typeof part !== "object" || part === null || Array.isArray(part)) throw new RunConfigError(`preset ${where}: 'export const ${stage}' must be an object of run config fields`);
  checkKnownFields(part as Record<string, unknown>, `preset ${nameOrPath} (${stage})`);
  return { ...(part as Partial<RunConfig>) };
}

/** A preset's `export const <name>` of settings whose keys and types are those of `defaults` ({} when absent). */
async function loadSettings<T extends Record<string, number | string>>(nameOrPath: string, name: string, defaults: T): Promise<Partial<T>> {
  const { mod, where } = await importPreset(nameOrPath);
  const part = mod[name];
  if (part === undefined) return {};
  if (typeof part !== "object" || part === null || Array.isArray(part)) throw new RunConfigError(`preset ${where}: 'export const ${name}' must be an object`);
  const keys = Object.keys(defaults);
  for (const [k, v] of Object.entries(part)) {
    if (!keys.includes(k)) throw new RunConfigError(`preset ${where}: ${name}.${k} is not a setting; the settings are ${keys.join(", ")}`);
    const want = typeof defaults[k];
    if (typeof v !== want || (want === "number" && !Number.isFinite(v))) throw new RunConfigError(`preset ${where}: ${name}.${k} must be a ${want}, got ${JSON.stringify(v)}`);
  }
  return { ...(part as Partial<T>) };
}

/** A preset's `export const rlSampling` (how `train rl` samples; {} when the preset has none). */
export function loadRlSampling(nameOrPath: string): Promise<Partial<RlSampling>> {
  return loadSettings(nameOrPath, "rlSampling", RL_SAMPLING as unknown as Record<string, number>) as Promise<Partial<RlSampling>>;
}

/**
 * What `deno task pipeline` does after training: the chat tasks it evaluates every stage
 * on, and how; and how long each stage took where the preset was measured (seconds, 0:
 * unknown), which the pipeline's ETA scales by this machine's speed so far.
 */
export interface PipelineSettings {
  evalTasks: string;
  evalProblems: number;
  evalMaxTokens: number;
  /** CORE items per task when the eval bundle is present (0: all, as the reference's base_eval). */
  coreMaxPerTask: number;
  secondsBase: number;
  secondsMid: number;
  secondsSft: number;
  secondsRl: number;
  secondsEval: number;
}

/** The reference's chat evaluation (its tasks' data must be downloaded first: `deno task eval chat --help`). */
export const PIPELINE_DEFAULTS: PipelineSettings = {
  evalTasks: "arc-easy,arc-challenge,mmlu,gsm8k,humaneval,spelling-bee", evalProblems: 0, evalMaxTokens: 512, coreMaxPerTask: 0,
  secondsBase: 0, secondsMid: 0, secondsSft: 0, secondsRl: 0, secondsEval: 0,
};

/** A preset's `export const pipeline`, over PIPELINE_DEFAULTS. */
export async function loadPipelineSettings(nameOrPath: string): Promise<PipelineSettings> {
  return { ...PIPELINE_DEFAULTS, ...await loadSettings(nameOrPath, "pipeline", PIPELINE_DEFAULTS as unknown as Record<string, number | string>) };
}
