// The runs directory as the lab server sees it: which directories are runs, a summary of
// each (status, step, latest loss and val bpb, checkpoints), and the paths of a run's
// files — every one resolved through paths.ts, so nothing outside runs/ is ever read, and
// every directory listed through listInside, so no name from outside runs/ is ever shown.
// A broken file in one run never breaks the listing: that run carries an `error`.
import { META_FILE, MODEL_FILE, selectCheckpoints, validateMeta } from "../formats/checkpoint.ts";
import { type MetricsRecord, parseMetrics, RUN_LOCK_FILE, type RunInfo, validateRunInfo } from "../formats/metrics.ts";
import { readLock } from "../io/deno_lock.ts";
import type { CheckpointDetail, RunSummary } from "../formats/lab_api.ts";
import { HttpError } from "./http.ts";
import { checkName, listInside, mustOpen, mustResolve, openInside, readOpened, realPathOrNull, resolveInside, SAFE_NAME } from "./paths.ts";
import { type MetricsStats, MetricsStatsCache } from "./tail.ts";

export type { CheckpointDetail, RunSummary, SummaryStatus } from "../formats/lab_api.ts";

const errMessage = (err: unknown) => (err as Error)?.message ?? String(err);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const maxIso = (a: string | null, b: string | null) => (!a ? b : !b ? a : a > b ? a : b);

/** Separates an archive's label from a run's name in the lab's name of an archived run (LABEL~RUN). */
export const ARCHIVE_SEP = "~";

export class Runs {
  readonly stats = new MetricsStatsCache();
  /** runsDir: the live runs; archiveDir: where `deno task archive` put finished pipelines (archive/LABEL/RUN), listed as LABEL~RUN. */
  constructor(readonly runsDir: string, readonly archiveDir: string | null = null) {}

  /** realPath of the runs directory, or null while it does not exist. */
  root(): Promise<string | null> {
    return realPathOrNull(this.runsDir);
  }

  /** The real directory of run `name` (checked), or HttpError 400/404. */
  async runDir(name: string): Promise<string> {
    if (name.includes(ARCHIVE_SEP)) return await this.archivedRunDir(name);
    checkName(name, "run name");
    const root = await this.root();
    if (!root) throw new HttpError(404, `run '${name}' not found: the runs directory ${this.runsDir} does not exist yet (start a run with 'deno task train base')`);
    const dir = await mustResolve(root, [name], `run '${name}'`, `GET /api/runs lists the runs in ${root}`);
    if (!(await Deno.stat(dir)).isDirectory) throw new HttpError(404, `run '${name}' not found: ${root}/${name} is not a directory`);
    return dir;
  }

  /** Names of the runs: directories (or links to directories inside runs/) with run.json or metrics.jsonl. */
  async names(): Promise<string[]> {
    const root = await this.root();
    if (!root) return [];
    const listed = await listInside(root, []);
    if (!listed.ok) return []; // runs/ itself is gone, or was swapped for a link out while we listed it
    const names: string[] = [];
    for (const e of listed.entries) {
      if (!(e.isDirectory || e.isSymlink) || !SAFE_NAME.test(e.name)) continue;
      const dir = await resolveInside(root, [e.name]);
      if (!dir.ok || !(await Deno.stat(dir.path)).isDirectory) continue;
      const has = async (f: string) => {
        const r = await resolveInside(dir.path, [f]);
        return r.ok || r.reason === "outside"; // a link out still marks a run (its summary says what is wrong)
      };
      if (await has("run.json") || await has("metrics.jsonl")) names.push(e.name);
    }
    return [...names.sort(), ...await this.archivedNames()];
  }

  /** The real directory of an archived run LABEL~RUN, or HttpError 400/404. */
  private async archivedRunDir(name: string): Promise<string> {
    const parts = name.split(ARCHIVE_SEP);
    if (parts.length !== 2) throw new HttpError(400, `bad run name '${name}': an archived run is LABEL${ARCHIVE_SEP}RUN`);
    for (const p of parts) checkName(p, "run name");
    const root = this.archiveDir ? await realPathOrNull(this.archiveDir) : null;
    if (!root) throw new HttpError(404, `run '${name}' not found: no archive directory${this.archiveDir ? ` (${this.archiveDir})` : ""}`);
    const dir = await mustResolve(root, parts, `run '${name}'`, `GET /api/runs lists the archived runs in ${root}`);
    if (!(await Deno.stat(dir)).isDirectory) throw new HttpError(404, `run '${name}' not found: ${root}/${parts.join("/")} is not a directory`);
    return dir;
  }

  /** LABEL~RUN for every archive/LABEL/RUN directory holding run.json (what deno task archive moves). */
  private async archivedNames(): Promise<string[]> {
    const root = this.archiveDir ? await realPathOrNull(this.archiveDir) : null;
    if (!root) return [];
    const names: string[] = [];
    const dirsIn = async (path: string[]) => {
      const listed = await listInside(root, path);
      return listed.ok ? listed.entries.filter((e) => e.isDirectory && SAFE_NAME.test(e.name)).map((e) => e.name).sort() : [];
    };
    for (const label of await dirsIn([])) {
      for (const run of await dirsIn([label])) {
        if ((await resolveInside(root, [label, run, "run.json"])).ok) names.push(`${label}${ARCHIVE_SEP}${run}`);
      }
    }
    return names;
  }

  async list(): Promise<RunSummary[]> {
    const summaries = await Promise.all((await this.names()).map(async (name) => {
      try {
        return (await this.summary(name)).summary;
      } catch (err) { // the run vanished or cannot be read at all: still listed, with why
        return { ...emptySummary(name), error: errMessage(err) };
      }
    }));
    return summaries.sort((a, b) => (b.updated_at ?? "").localeCompare(a.updated_at ?? "") || a.name.localeCompare(b.name));
  }

  /** Reads run.json: the raw JSON (for `info`), the validated RunInfo, or the error naming the file. */
  async runInfo(dir: string): Promise<{ raw: unknown; info: RunInfo | null; error?: string; mtimeKey: string }> {
    let text: string, mtimeKey: string;
    try {
      const r = await openInside(dir, ["run.json"]);
      if (!r.ok) {
        if (r.reason === "missing") return { raw: null, info: null, mtimeKey: "none" };
        return { raw: null, info: null, error: "run.json is a link that leads outside the run directory; not read", mtimeKey: "outside" };
      }
      const st = r.opened.info;
      mtimeKey = `${st.ino}:${st.size}:${st.mtime?.getTime()}`;
      text = await readOpened(r.opened);
    } catch (err) {
      return { raw: null, info: null, error: `run.json cannot be read: ${errMessage(err)}`, mtimeKey: "unreadable" };
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      return { raw: null, info: null, error: `run.json is not valid JSON (${errMessage(err)}); fix or delete it`, mtimeKey };
    }
    try {
      return { raw, info: validateRunInfo(raw, "run.json"), mtimeKey };
    } catch (err) {
      return { raw, info: null, error: errMessage(err), mtimeKey };
    }
  }

  /** Path of the run's metrics.jsonl: null when it does not exist; HttpError 404 when it is a link out. */
  async metricsPath(dir: string): Promise<string | null> {
    const r = await resolveInside(dir, ["metrics.jsonl"]);
    if (r.ok) {
      if (!(await Deno.stat(r.path)).isFile) throw new HttpError(500, `metrics.jsonl of this run (${r.path}) is not a regular file; move it out of the way`);
      return r.path;
    }
    if (r.reason === "missing") return null;
    throw new HttpError(404, "metrics.jsonl is a link that leads outside the run directory; the lab server does not follow it");
  }

  /** All records of metrics.jsonl (a torn last line is skipped); [] when there is none. */
  async records(dir: string): Promise<MetricsRecord[]> {
    if (!(await this.metricsPath(dir))) return []; // its errors: a link out, not a regular file
    const r = await openInside(dir, ["metrics.jsonl"]);
    if (!r.ok) {
      if (r.reason === "missing") return [];
      throw new HttpError(404, "metrics.jsonl is a link that leads outside the run directory; the lab server does not follow it");
    }
    return parseMetrics(await readOpened(r.opened)).records;
  }

  async summary(name: string): Promise<{ summary: RunSummary; raw: unknown }> {
    const dir = await this.runDir(name);
    const s = emptySummary(name);
    const errors: string[] = [];
    let broken = false;
    const ri = await this.runInfo(dir);
    if (ri.error) {
      errors.push(ri.error);
      broken = true;
    }
    const info = ri.info;
    if (info) Object.assign(s, { status: info.status, stage: info.stage, adapter: info.adapter, step: info.step ?? null, started_at: info.started_at, updated_at: info.updated_at, config: info.config });
    let stats: MetricsStats | null = null;
    try {
      const path = await this.metricsPath(dir);
      if (path) stats = await this.stats.get(path);
    } catch (err) {
      errors.push(err instanceof HttpError ? err.message : `metrics.jsonl cannot be read: ${errMessage(err)}`);
      broken = true;
    }
    if (stats) {
      s.last_loss = num(stats.lastTrain?.loss);
      s.tok_per_sec = num(stats.lastTrain?.tok_per_sec);
      s.last_val_bpb = num(stats.lastEval?.val_bpb);
      if (stats.lastStep !== null) s.step = Math.max(s.step ?? stats.lastStep, stats.lastStep);
      s.updated_at = maxIso(s.updated_at, stats.mtime?.toISOString() ?? null);
      if (stats.badLines.length) {
        const shown = stats.badLines.slice(0, 5).join(", ") + (stats.badLines.length > 5 ? ", …" : "");
        errors.push(`metrics.jsonl: ${stats.badLines.length === 1 ? "line" : "lines"} ${shown} ${stats.badLines.length === 1 ? "is not a JSON object and was" : "are not JSON objects and were"} skipped`);
      }
    }
    try {
      s.checkpoints = [...(await this.checkpointDirs(dir)).keys()];
    } catch (err) {
      errors.push(err instanceof HttpError ? err.message : `checkpoints cannot be listed: ${errMessage(err)}`);
    }
    s.report = (await resolveInside(dir, ["report", "report.json"])).ok;
    if (broken) s.status = "unknown";
    else if (s.status === "running" && !(await this.ownerAlive(dir))) {
      s.status = "interrupted";
      errors.push(`run.json says running, but no process holds the run (killed?); continue it with 'deno task train ${info?.stage ?? "base"} --run ${name} --resume'`);
    }
    if (info?.error && info.status === "failed") errors.unshift(info.error);
    if (errors.length) s.error = errors.join("; ");
    return { summary: s, raw: ri.raw };
  }

  /** Whether a live process (or one on another host, which we cannot check) holds the run's owner lock. */
  async ownerAlive(dir: string): Promise<boolean> {
    const r = await resolveInside(dir, [RUN_LOCK_FILE]);
    if (!r.ok) return false;
    const lock = readLock(r.path);
    return lock !== null && lock.alive !== false;
  }

  /**
   * Step → real directory of each complete checkpoint, by the checkpoint module's rules
   * (selectCheckpoints over the step_* directories; meta.json and model.safetensors
   * present). Links are not followed out of the run: a linked step directory is not a
   * checkpoint, as in src/train/deno_checkpoint.ts.
   */
  async checkpointDirs(dir: string): Promise<Map<number, string>> {
    const root = await listInside(dir, ["checkpoints"]);
    if (!root.ok) {
      if (root.reason === "missing") return new Map();
      throw new HttpError(404, "checkpoints/ is a link that leads outside the run directory; the lab server does not follow it");
    }
    const names = root.entries.filter((e) => e.isDirectory).map((e) => e.name);
    const out = new Map<number, string>();
    for (const [step, name] of selectCheckpoints(names)) {
      if ((await resolveInside(root.path, [name, META_FILE])).ok && (await resolveInside(root.path, [name, MODEL_FILE])).ok) out.set(step, `${root.path}/${name}`);
    }
    return out;
  }

  /** The real directory of checkpoint `stepText` of a run, or HttpError 400/404. */
  async checkpointDir(dir: string, run: string, stepText: string): Promise<string> {
    if (!/^\d{1,15}$/.test(stepText)) throw new HttpError(400, `checkpoint step ${JSON.stringify(stepText.slice(0, 40))} is not a non-negative integer (e.g. /api/runs/${run}/checkpoints/1000/meta.json)`);
    const dirs = await this.checkpointDirs(dir);
    const found = dirs.get(Number(stepText));
    if (!found) {
      const steps = [...dirs.keys()];
      throw new HttpError(404, `run '${run}' has no complete checkpoint at step ${Number(stepText)}; ${steps.length ? `its checkpoints: ${steps.join(", ")}` : "it has no checkpoints yet"}`);
    }
    return found;
  }

  async checkpointDetails(dir: string): Promise<CheckpointDetail[]> {
    const out: CheckpointDetail[] = [];
    for (const [step, ckpt] of await this.checkpointDirs(dir)) {
      const files: { name: string; size: number }[] = [];
      // ckpt is a real path inside the run: listInside proves the directory it opens is still there.
      const listed = await listInside(ckpt, []);
      for (const e of listed.ok ? listed.entries : []) {
        if (e.isFile && e.size !== null) {
          files.push({ name: e.name, size: e.size });
        } else if (e.isSymlink) { // a link to a file inside the run is listed, as before
          const r = await resolveInside(ckpt, [e.name]);
          const st = r.ok ? await Deno.stat(r.path).catch(() => null) : null;
          if (st?.isFile) files.push({ name: e.name, size: st.size });
        }
      }
      files.sort((a, b) => a.name.localeCompare(b.name));
      const d: CheckpointDetail = { step, files, meta: null };
      const label = `checkpoint ${step}: ${META_FILE}`;
      try {
        const text = await readOpened(await mustOpen(ckpt, [META_FILE], label));
        try {
          d.meta = JSON.parse(text);
        } catch (err) {
          throw new Error(`${label} is not valid JSON (${errMessage(err)})`);
        }
        validateMeta(d.meta, label);
      } catch (err) {
        d.error = errMessage(err);
      }
      out.push(d);
    }
    return out;
  }
}

function emptySummary(name: string): RunSummary {
  return {
    name, status: "unknown", stage: null, adapter: null, step: null, started_at: null, updated_at: null, config: null,
    last_loss: null, last_val_bpb: null, tok_per_sec: null, checkpoints: [], report: false,
  };
}
