// `deno task pipeline [--config NAME] [--run NAME]`: nanochat's speedrun in one command —
// tokenizer → base → mid → SFT → RL → evals (CORE of the base checkpoint when the eval
// bundle is present, the chat tasks on every stage) → report. Each stage is the same command
// a user would type (a child process whose whole output goes to
// runs/<NAME>/pipeline/<stage>.log); a stage whose output exists is skipped, and a
// training stage with checkpoints but not finished continues with --resume, so a stopped
// pipeline started again picks up where it stopped. One progress line per stage, with
// the stage's own ETA and the pipeline's (the preset's measured stage times, scaled by
// how fast this machine has been so far).
import { listShardFiles } from "../data/deno_shards.ts";
import { bundleHint, DEFAULT_BUNDLE_DIR, findBundle } from "../eval/deno_core_bundle.ts";
import { PIPELINE_FILE, type PipelineState, readPipelineState, stageRun, TOKENIZER_EVAL_FILE, writeReport } from "../report/deno_report.ts";
import { formatSeconds } from "../report/report.ts";
import { writeFileAtomic } from "../io/deno_files.ts";
import { latestCheckpoint } from "../train/deno_checkpoint.ts";
import { readRunInfo } from "../train/deno_metrics.ts";
import { loadPipelineSettings, loadPresetConfig, type PipelineSettings } from "../train/presets.ts";
import { resolveRunConfig } from "../train/run_config.ts";
import { parseFlags, runMain, taskCommand, taskLine, UsageError } from "./args.ts";

export const PIPELINE_FLAGS = {
  config: { type: "string", default: "tiny", help: "preset (configs/NAME.ts or a .ts path): every stage's settings and the evals" },
  run: { type: "string", default: "", help: "the base run's name; the others are NAME-mid, NAME-sft, NAME-rl (default: the preset's run)" },
  "runs-dir": { type: "string", default: "runs", help: "where the runs go" },
  "bundle-dir": { type: "string", default: DEFAULT_BUNDLE_DIR, help: "CORE's eval bundle: when it is here, the eval stage scores the base checkpoint on it (deno task eval base --download-bundle fetches it)" },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring (every stage)" },
} as const;

const STAGES = ["tokenizer", "base", "mid", "sft", "rl", "eval", "report"] as const;
type Stage = (typeof STAGES)[number];

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** run.json's status; null when the run has none yet (or it cannot be read: the stage runs again). */
const runStatus = (dir: string) => readRunInfo(dir).then((i) => i?.status ?? null, () => null);

/** "1h2m3s" / "16m20s" / "55s" → seconds (null when it is not such a duration). */
export function parseEta(s: string): number | null {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (!m || s === "") return null;
  return 3600 * Number(m[1] ?? 0) + 60 * Number(m[2] ?? 0) + Number(m[3] ?? 0);
}

/** Set by Ctrl-C: the stage running finishes its checkpoint, and the pipeline stops after it. */
let interrupted = false;

interface Child {
  script: string;
  args: string[];
}

/** Runs a child command, its stdout and stderr into `log`; calls onLine with each output line. Resolves to its exit code. */
async function runLogged(child: Child, log: string, onLine: (line: string) => void): Promise<number> {
  const file = await Deno.open(log, { write: true, create: true, append: true });
  const enc = new TextEncoder();
  await file.write(enc.encode(`$ ${taskLine(child.script, child.args)}\n`));
  const proc = taskCommand(child.script, child.args, { stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).spawn();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      await file.write(chunk);
      const text = rest + dec.decode(chunk, { stream: true });
      const lines = text.split(/\r?\n|\r/);
      rest = lines.pop()!;
      for (const l of lines) onLine(l);
    }
    if (rest) onLine(rest);
  };
  // Ctrl-C in a terminal reaches the child too (one process group); a SIGINT or SIGTERM
  // sent to this process alone is passed on as one SIGINT. Either way the child saves a
  // checkpoint and exits, and the pipeline stops after it.
  const fromTerminal = Deno.stdin.isTerminal();
  const onSignal = (forward: boolean) => () => {
    interrupted = true;
    if (forward) {
      try {
        proc.kill("SIGINT");
      } catch { /* already gone */ }
    }
  };
  const onInt = onSignal(!fromTerminal), onTerm = onSignal(true);
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    await Promise.all([pump(proc.stdout), pump(proc.stderr)]);
    return (await proc.status).code;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
    file.close();
  }
}

/** The last lines of a log that say what went wrong (the child's error message). */
async function errorLines(log: string): Promise<string> {
  const lines = (await Deno.readTextFile(log).catch(() => "")).split("\n").map((l) => l.trim()).filter(Boolean);
  const err = lines.filter((l) => /error|Error|failed|refus|missing|corrupt|not /.test(l) && !/^\$ deno task/.test(l));
  return (err.length ? err.slice(-3) : lines.slice(-3)).map((l) => `    ${l}`).join("\n");
}

runMain(async (args) => {
  const parsed = parseFlags(args, "pipeline", "Run the whole pipeline (tokenizer → base → mid → SFT → RL → evals → report), skipping finished stages.", PIPELINE_FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const preset = await loadPresetConfig(f.config);
  const settings: PipelineSettings = await loadPipelineSettings(f.config);
  const base = resolveRunConfig(preset).config;
  const name = f.run || base.run;
  const runs = f["runs-dir"];
  const baseDir = `${runs}/${name}`;
  const logDir = `${baseDir}/pipeline`;
  await Deno.mkdir(`${baseDir}/report`, { recursive: true });
  await Deno.mkdir(logDir, { recursive: true });
  const adapter = f.adapter ? ["--adapter", f.adapter] : [];
  const common = ["--config", f.config, "--runs-dir", runs];

  const now = new Date().toISOString();
  const state: PipelineState = (await readPipelineState(baseDir)) ?? { name, config: f.config, started_at: now, updated_at: now, stages: {} };
  const saveState = async () => {
    state.updated_at = new Date().toISOString();
    await writeFileAtomic(`${baseDir}/${PIPELINE_FILE}`, JSON.stringify(state, null, 2) + "\n");
  };

  const training = (stage: "base" | "mid" | "sft" | "rl"): Child[] => {
    const run = stageRun(name, stage);
    const from = { base: [], mid: ["--from", name], sft: ["--from", stageRun(name, "mid")], rl: ["--from", stageRun(name, "sft")] }[stage];
    return [{ script: "src/cli/train.ts", args: [stage, ...common, "--run", run, ...from, ...adapter] }];
  };
  const trained = ["base", "mid", "sft", "rl"] as const;
  // CORE needs the bundle (162 MB, downloaded once); without it the eval stage says how to
  // get it and the report's BASE column keeps bits per byte.
  const haveBundle = (await findBundle(f["bundle-dir"])) !== null;
  const coreFile = async () => {
    const latest = await latestCheckpoint(baseDir);
    return latest ? `${baseDir}/eval/core_${latest.dir.split("/").pop()}.json` : null;
  };
  const evalDone = async () => {
    if (haveBundle) {
      const file = await coreFile();
      if (!file || !(await exists(file))) return false;
    }
    for (const s of trained) {
      const dir = `${runs}/${stageRun(name, s)}`;
      const latest = await latestCheckpoint(dir);
      if (!latest || !(await exists(`${dir}/eval/chat_${latest.dir.split("/").pop()}.json`))) return false;
    }
    return true;
  };
  const plan: Record<Stage, { done: () => Promise<boolean>; children: () => Promise<Child[]>; expected: number }> = {
    tokenizer: {
      done: async () => (await listShardFiles(base.data_dir)).length >= 2 && await exists(`${base.tokenizer_dir}/tokenizer.json`) && await exists(`${baseDir}/report/${TOKENIZER_EVAL_FILE}`),
      children: async () => [
        ...((await listShardFiles(base.data_dir)).length >= 2 ? [] : [{ script: "src/cli/data.ts", args: ["prepare", "--dir", base.data_dir] }]),
        ...(await exists(`${base.tokenizer_dir}/tokenizer.json`) ? [] : [{ script: "src/cli/tok.ts", args: ["train", "--vocab", String(base.vocab_size), "--data-dir", base.data_dir, "--dir", base.tokenizer_dir] }]),
        { script: "src/cli/tok.ts", args: ["eval", "--dir", base.tokenizer_dir, "--data-dir", base.data_dir, "--json", `${baseDir}/report/${TOKENIZER_EVAL_FILE}`] },
      ],
      expected: 0,
    },
    base: { done: async () => (await runStatus(baseDir)) === "finished", children: () => Promise.resolve(training("base")), expected: settings.secondsBase },
    mid: { done: async () => (await runStatus(`${runs}/${stageRun(name, "mid")}`)) === "finished", children: () => Promise.resolve(training("mid")), expected: settings.secondsMid },
    sft: { done: async () => (await runStatus(`${runs}/${stageRun(name, "sft")}`)) === "finished", children: () => Promise.resolve(training("sft")), expected: settings.secondsSft },
    rl: { done: async () => (await runStatus(`${runs}/${stageRun(name, "rl")}`)) === "finished", children: () => Promise.resolve(training("rl")), expected: settings.secondsRl },
    eval: {
      done: evalDone,
      children: async () => [
        ...(haveBundle && !(await exists((await coreFile()) ?? "")) ? [{
          script: "src/cli/eval.ts",
          args: ["base", "--core", "--run", name, "--runs-dir", runs, "--bundle-dir", f["bundle-dir"], "--max-per-task", String(settings.coreMaxPerTask), ...adapter],
        }] : []),
        {
          script: "src/cli/eval.ts",
          args: ["chat", "-a", settings.evalTasks, "--run", stageRun(name, "rl"), "--runs-dir", runs, "--max-tokens", String(settings.evalMaxTokens), ...(settings.evalProblems ? ["--max-problems", String(settings.evalProblems)] : []), ...adapter],
        },
      ],
      expected: settings.secondsEval,
    },
    report: { done: () => Promise.resolve(false), children: () => Promise.resolve([]), expected: 0 },
  };

  console.log(`pipeline '${name}' (preset ${f.config}) in ${runs}/: ${STAGES.join(" → ")}; logs in ${logDir}/`);
  if (!haveBundle) console.log(`CORE: no eval bundle in ${f["bundle-dir"]}/, so the eval stage skips it (the report shows bits per byte). ${bundleHint(f["bundle-dir"])}`);
  const t0 = performance.now();
  // Measured vs expected seconds of the stages run so far: how fast this machine is against the preset's figures.
  let spent = 0, spentExpected = 0;
  const remainingExpected = (from: number) => STAGES.slice(from).reduce((s, st) => s + plan[st].expected, 0);
  const speed = () => (spentExpected > 0 ? spent / spentExpected : 1);
  const tty = Deno.stdout.isTerminal();
  for (let i = 0; i < STAGES.length; i++) {
    const stage = STAGES[i];
    const head = `[${i + 1}/${STAGES.length}] ${stage}`;
    if (await plan[stage].done()) {
      console.log(`${head}: done already, skipped`);
      continue;
    }
    if (stage === "report") {
      const { dir, report } = await writeReport(runs, name);
      const cols = report.table.columns;
      console.log(`${head}: wrote ${dir}/report.md`);
      console.log(`\n| metric | ${cols.join(" | ")} |\n|---|${cols.map(() => "---|").join("")}`);
      for (const r of report.table.rows) console.log(`| ${r.metric} | ${r.values.join(" | ")} |`);
      console.log(`\npipeline '${name}' finished in ${formatSeconds((performance.now() - t0) / 1000)} this time; open it in the lab: deno task lab (then Report)`);
      continue;
    }
    const children = await plan[stage].children();
    const resumeArgs = (stage === "base" || stage === "mid" || stage === "sft" || stage === "rl") && (await latestCheckpoint(`${runs}/${stageRun(name, stage)}`)) ? ["--resume"] : [];
    const log = `${logDir}/${stage}.log`;
    const started = performance.now();
    let stageEta: number | null = null, lastShown = 0, lastLine = "";
    const show = (final = false) => {
      const el = (performance.now() - started) / 1000;
      const rest = (stageEta ?? Math.max(0, plan[stage].expected * speed() - el)) + remainingExpected(i + 1) * speed();
      const total = remainingExpected(0) > 0 || stageEta !== null ? `, pipeline eta ~${formatSeconds(rest)}` : "";
      const line = `${head}: ${lastLine || "starting"} (${formatSeconds(el)} in${stageEta !== null ? `, stage eta ${formatSeconds(stageEta)}` : ""}${total})`;
      if (tty) Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
      else if (final || performance.now() - lastShown > 60_000) console.log(line);
      lastShown = performance.now();
    };
    if (resumeArgs.length) console.log(`${head}: continuing from its latest checkpoint (--resume)`);
    for (const child of children) {
      child.args.push(...resumeArgs);
      const code = await runLogged(child, log, (l) => {
        const m = /step\s+(\d+)\/(\d+).*?eta (\S+)/.exec(l) ?? /(\d+)\/(\d+), \d+ correct.*eta (\d+) s/.exec(l);
        if (m) {
          lastLine = `step ${m[1]}/${m[2]}`;
          stageEta = parseEta(m[3]) ?? (Number.isFinite(Number(m[3])) ? Number(m[3]) : null);
          if (tty || performance.now() - lastShown > 60_000) show();
        }
      });
      if (code !== 0 && interrupted) {
        console.log(`\n${head}: stopped (${log}); run the same 'deno task pipeline' again to continue from its last checkpoint`);
        Deno.exit(130);
      }
      if (code !== 0) {
        if (tty) Deno.stdout.writeSync(new TextEncoder().encode("\n"));
        const done = STAGES.slice(0, i).join(", ");
        throw new UsageError(
          `pipeline stopped at stage ${stage} ('${taskLine(child.script, child.args)}' exited ${code}):\n${await errorLines(log)}\n` +
            `  whole output: ${log}\n  fix that and run the same 'deno task pipeline' again: ${done ? `${done} ${i > 1 ? "are" : "is"} finished and will be skipped` : "nothing is lost"}`,
        );
      }
    }
    const isTraining = (trained as readonly string[]).includes(stage);
    if (interrupted || (isTraining && (await runStatus(`${runs}/${stageRun(name, stage as (typeof trained)[number])}`)) !== "finished")) {
      if (tty) Deno.stdout.writeSync(new TextEncoder().encode("\n"));
      console.log(`${head}: stopped before its end (${log}); run the same 'deno task pipeline' again to continue from its last checkpoint`);
      Deno.exit(130);
    }
    const seconds = (performance.now() - started) / 1000;
    if (plan[stage].expected > 0) spent += seconds, spentExpected += plan[stage].expected;
    state.stages[stage] = { seconds: (state.stages[stage]?.seconds ?? 0) + seconds, finished_at: new Date().toISOString() };
    await saveState();
    lastLine = "done";
    stageEta = 0;
    show(true);
  }
});
