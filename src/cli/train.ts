// `deno task train base [--config NAME] [--flag value ...] [--resume]`
// With no arguments on a fresh machine: prepares the embedded shards and a tokenizer if
// they are missing, then trains configs/tiny.ts on the first WebGPU adapter.
import { listShardFiles } from "../data/deno_shards.ts";
import { acquireGpu } from "../gpu/device.ts";
import { trainBase } from "../train/deno_base.ts";
import { loadPresetConfig } from "../train/presets.ts";
import { DEFAULT_RUN_CONFIG, resolveRunConfig, type RunConfig } from "../train/run_config.ts";
import { type FlagTable, parseFlags, runMain, UsageError } from "./args.ts";
import { overridesFromFlags, presetArg, runConfigFlags } from "./run_flags.ts";

const STAGES = ["base", "mid", "sft", "rl"];
const DEFAULT_PRESET = "tiny";

const EXTRA_FLAGS: FlagTable = {
  resume: { type: "boolean", default: false, help: "continue the run's latest checkpoint" },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
  "no-prepare": { type: "boolean", default: false, help: "do not build missing shards/tokenizer; fail instead" },
  "sample-tokens": { type: "number", default: 16, help: "greedy tokens per sample prompt" },
};

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}


/** Runs another task's CLI as a child process, so its progress output and errors show as they are. */
async function runChild(script: string, args: string[]): Promise<void> {
  console.log(`$ deno task ${script.replace(/^src\/cli\/|\.ts$/g, "")} ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../../${script}`, import.meta.url).pathname, ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new UsageError(`'deno task ${script.replace(/^src\/cli\/|\.ts$/g, "")} ${args.join(" ")}' failed (exit ${status.code})`);
}

/** Builds what a first run needs: the embedded shards, then a tokenizer trained on them. */
async function prepareMissing(c: RunConfig): Promise<void> {
  // Two shards at least: the last one is validation.
  if ((await listShardFiles(c.data_dir)).length < 2) {
    console.log(`no shards in ${c.data_dir}: building them from the embedded corpus`);
    await runChild("src/cli/data.ts", ["prepare", "--dir", c.data_dir]);
  }
  if (!(await exists(`${c.tokenizer_dir}/tokenizer.json`))) {
    console.log(`no tokenizer in ${c.tokenizer_dir}: training one with vocab ${c.vocab_size} on the shards`);
    await runChild("src/cli/tok.ts", ["train", "--vocab", String(c.vocab_size), "--data-dir", c.data_dir, "--dir", c.tokenizer_dir]);
  }
}

runMain(async (args) => {
  const [stage, ...rest] = args;
  if (!stage || stage === "-h" || stage === "--help") {
    console.log(`usage: deno task train <stage> [flags]   stages: ${STAGES.join(", ")}\n\n'deno task train base --help' lists the flags.`);
    return;
  }
  if (!STAGES.includes(stage)) throw new UsageError(`unknown stage '${stage}'; stages: ${STAGES.join(", ")}`);
  if (stage !== "base") throw new UsageError(`stage '${stage}' is not built yet; 'deno task train base' is`);
  const presetName = presetArg(rest) ?? DEFAULT_PRESET;
  const preset = await loadPresetConfig(presetName);
  const flags = { ...runConfigFlags({ ...DEFAULT_RUN_CONFIG, ...preset }), ...EXTRA_FLAGS };
  flags.config = { ...flags.config, default: presetName };
  const parsed = parseFlags(rest, "train base", `Pretrain a GPT on the parquet shards (preset: ${presetName}; flags override it).`, flags);
  if (!parsed) return;
  const f = parsed.flags as Record<string, unknown>;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  // Only flags given on the command line override the preset (defaults already are the preset's).
  const given = overridesFromFlags(Object.fromEntries(Object.entries(f).filter(([k]) => rest.some((a) => a === `--${k}` || a.startsWith(`--${k}=`)))));
  const resolved = resolveRunConfig(preset, given);
  if (!f["no-prepare"]) await prepareMissing(resolved.config);
  const gpu = await acquireGpu({ adapterName: (f.adapter as string) || undefined });
  const result = await trainBase({ resolved, gpu, resume: !!f.resume, sampleTokens: f["sample-tokens"] as number });
  if (result.stopped) {
    console.log(`stopped at step ${result.step}; continue with: deno task train base --config ${presetName} --run ${resolved.config.run} --resume`);
    return;
  }
  if (result.firstValBpb !== null && result.lastValBpb !== null) {
    const drop = 100 * (1 - result.lastValBpb / result.firstValBpb);
    console.log(`validation bits per byte: ${result.firstValBpb.toFixed(4)} at step 0 → ${result.lastValBpb.toFixed(4)} at step ${result.step} (${drop.toFixed(1)}% lower)`);
  }
  console.log(`done: ${result.runDir}`);
});
