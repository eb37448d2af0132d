// DENO-ONLY: gathering a pipeline's runs from disk and writing its report directory,
// runs/<name>/report/ (report.md, report.json, one SVG curve per stage), each file
// written atomically. The runs of a pipeline are <name> (base) and <name>-mid, -sft, -rl.
import { writeFileAtomic } from "../io/deno_files.ts";
import { MetricsError } from "../formats/metrics.ts";
import { readMetricsFile, readRunInfo } from "../train/deno_metrics.ts";
import { UserError } from "../util/errors.ts";
import { buildReport, type Report, reportMarkdown, REPORT_STAGES, type ReportStage, type StageInput, type TokenizerRow } from "./report.ts";

export class ReportError extends UserError {
  override name = "ReportError";
}

/** The pipeline's own record (deno task pipeline writes it): wall seconds per stage. */
export interface PipelineState {
  name: string;
  config: string;
  started_at: string;
  updated_at: string;
  stages: Record<string, { seconds: number; finished_at: string } | undefined>;
}

export const PIPELINE_FILE = "pipeline.json";
export const TOKENIZER_EVAL_FILE = "tokenizer_eval.json";

/** The run directory of a pipeline's stage. */
export function stageRun(name: string, stage: ReportStage): string {
  return stage === "base" ? name : `${name}-${stage}`;
}

async function readJson(path: string): Promise<unknown | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ReportError(`${path} is not valid JSON: delete it (the command that writes it makes it again)`);
  }
}

export async function readPipelineState(runDir: string): Promise<PipelineState | null> {
  const raw = await readJson(`${runDir}/${PIPELINE_FILE}`);
  if (raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw) || typeof (raw as PipelineState).stages !== "object") {
    throw new ReportError(`${runDir}/${PIPELINE_FILE} is not a pipeline record: delete it and run the pipeline again (finished stages are kept)`);
  }
  return raw as PipelineState;
}

function environment(adapter: string): [string, string][] {
  const env: [string, string][] = [["adapter", adapter || "—"], ["Deno", `${Deno.version.deno} (V8 ${Deno.version.v8})`], ["OS", `${Deno.build.os} ${Deno.build.arch}`]];
  env.push(["CPU threads", String(navigator.hardwareConcurrency)]);
  try {
    env.push(["memory", `${(Deno.systemMemoryInfo().total / 2 ** 30).toFixed(1)} GiB`]);
  } catch { /* not offered on every platform */ }
  try {
    const out = new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"], stdout: "piped", stderr: "null" }).outputSync();
    if (out.success) env.push(["commit", new TextDecoder().decode(out.stdout).trim()]);
  } catch { /* no git */ }
  return env;
}

/** Reads the pipeline `name`'s runs under runsDir and writes runs/<name>/report/. */
export async function writeReport(runsDir: string, name: string): Promise<{ dir: string; report: Report }> {
  const stages: StageInput[] = [];
  const baseDir = `${runsDir}/${name}`;
  const pipeline = await readPipelineState(baseDir);
  for (const stage of REPORT_STAGES) {
    const run = stageRun(name, stage);
    const dir = `${runsDir}/${run}`;
    let info;
    try {
      info = await readRunInfo(dir);
    } catch (err) {
      if (err instanceof MetricsError) throw new ReportError(`${err.message}: the run's status file is damaged; the report needs it`);
      throw err;
    }
    if (info === null) continue;
    stages.push({ stage, run, info: { ...info }, records: await readMetricsFile(dir), wallSeconds: pipeline?.stages[stage]?.seconds ?? null });
  }
  if (!stages.length) throw new ReportError(`no runs of a pipeline named '${name}' under ${runsDir} (expected ${name}/run.json): train one (deno task pipeline) or pass --run`);
  const tokRaw = await readJson(`${baseDir}/report/${TOKENIZER_EVAL_FILE}`) as { vocab?: number; rows?: TokenizerRow[] } | null;
  const tokenizer = tokRaw && Array.isArray(tokRaw.rows) ? { vocab: tokRaw.vocab ?? null, rows: tokRaw.rows } : null;
  const { report, files } = buildReport({
    name, generatedAt: new Date().toISOString(), environment: environment(String(stages[0].info.adapter ?? "")),
    tokenizer, stages, evalSeconds: pipeline?.stages.eval?.seconds ?? null,
  });
  const outDir = `${baseDir}/report`;
  await Deno.mkdir(outDir, { recursive: true });
  for (const [file, svg] of files) await writeFileAtomic(`${outDir}/${file}`, svg);
  await writeFileAtomic(`${outDir}/report.md`, reportMarkdown(report));
  await writeFileAtomic(`${outDir}/report.json`, JSON.stringify(report, null, 2) + "\n");
  return { dir: outDir, report };
}

/** The newest base run under runsDir (by started_at): the pipeline a bare `deno task report` means. */
export async function newestPipeline(runsDir: string): Promise<string | null> {
  let best: { name: string; t: number } | null = null;
  try {
    for await (const e of Deno.readDir(runsDir)) {
      if (!e.isDirectory) continue;
      const info = await readRunInfo(`${runsDir}/${e.name}`).catch(() => null);
      if (!info || info.stage !== "base") continue;
      const t = Date.parse(String(info.started_at));
      if (!best || t > best.t) best = { name: e.name, t };
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return best?.name ?? null;
}
