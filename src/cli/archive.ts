// `deno task archive RUN [--as LABEL] [--no-checkpoints]`: moves a finished pipeline —
// the runs RUN, RUN-mid, RUN-sft, RUN-rl (whichever exist; RUN holds the pipeline's logs
// and its report) — from runs/ to archive/LABEL/, so runs/ holds only live work and the
// lab still lists the archived runs (as LABEL~RUN…, src/server/runs.ts).
//
// Each run moves with one rename (atomic on one filesystem); archive/LABEL/archive.json,
// rewritten after each move, lists what has moved. A run still marked running is refused, and nothing is
// ever merged into an existing archive: a half-finished archive names what moved and
// what did not, and running the command again moves the rest.
import { writeFileAtomic } from "../io/deno_files.ts";
import { REPORT_STAGES } from "../report/report.ts";
import { stageRun } from "../report/deno_report.ts";
import { RUN_LOCK_FILE } from "../formats/metrics.ts";
import { readLock } from "../io/deno_lock.ts";
import { SAFE_NAME } from "../server/paths.ts";
import { ARCHIVE_SEP } from "../server/runs.ts";
import { readRunInfo } from "../train/deno_metrics.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";

export const ARCHIVE_FLAGS = {
  as: { type: "string", default: "", help: "the archive's name: archive/LABEL/ (default: RUN-YYYYMMDD from the base run's start)" },
  "runs-dir": { type: "string", default: "runs", help: "where the runs are" },
  "archive-dir": { type: "string", default: "archive", help: "where archives go (on the same filesystem as --runs-dir)" },
  "no-checkpoints": { type: "boolean", default: false, help: "delete the runs' checkpoints instead of moving them (metrics, logs and the report are kept)" },
} as const;

/** The file listing an archive's runs, so an interrupted archive can be finished by running the command again. */
export const ARCHIVE_FILE = "archive.json";

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) n += await dirBytes(p);
    else if (e.isFile) n += (await Deno.stat(p)).size;
  }
  return n;
}

if (import.meta.main) {
  runMain(async (args) => {
    const parsed = parseFlags(args, "archive", "Move a finished pipeline's runs, logs and report from runs/ to archive/; the lab still lists them.", ARCHIVE_FLAGS, "RUN");
    if (!parsed) return;
    const f = parsed.flags;
    const [name, extra] = parsed.positionals;
    if (!name) throw new UsageError("say which pipeline: deno task archive RUN (its base run's name, e.g. tiny)");
    if (extra) throw new UsageError(`unexpected argument '${extra}' (one pipeline at a time)`);
    const runsDir = f["runs-dir"];
    const base = await readRunInfo(`${runsDir}/${name}`).catch((err) => {
      throw new UsageError(`${runsDir}/${name}/run.json cannot be read (${(err as Error).message}); archive needs the base run's status`);
    });
    if (!base) throw new UsageError(`no run '${name}' under ${runsDir} (expected ${runsDir}/${name}/run.json); deno task lab lists the runs`);
    const label = f.as || `${name}-${String(base.started_at ?? "").slice(0, 10).replaceAll("-", "") || "undated"}`;
    if (!SAFE_NAME.test(label)) throw new UsageError(`--as '${label}': use letters, digits, '.', '_' and '-' (it names a directory and appears in the lab)`);

    const runs: string[] = [];
    for (const stage of REPORT_STAGES) {
      const run = stageRun(name, stage);
      if (!(await exists(`${runsDir}/${run}`))) continue;
      const info = await readRunInfo(`${runsDir}/${run}`).catch(() => null);
      if (info?.status === "running") {
        const lock = readLock(`${runsDir}/${run}/${RUN_LOCK_FILE}`);
        if (lock?.alive === false || lock === null) {
          throw new UsageError(`${runsDir}/${run} was interrupted (run.json says running, but no process holds it): finish it with --resume (deno task pipeline resumes it), then archive`);
        }
        throw new UsageError(`${runsDir}/${run} is still running (pid ${lock.holder?.pid ?? "?"}): stop it (Ctrl-C checkpoints it) or wait until it finishes, then archive`);
      }
      runs.push(run);
    }
    const dest = `${f["archive-dir"]}/${label}`;
    const manifestPath = `${dest}/${ARCHIVE_FILE}`;
    const previous = await Deno.readTextFile(manifestPath).then((t) => JSON.parse(t) as { runs?: string[] }, () => null);
    if (previous === null && await exists(dest)) {
      throw new UsageError(`${dest} already exists and is not an unfinished archive of '${name}': pass another --as LABEL (archives are never merged)`);
    }
    await Deno.mkdir(dest, { recursive: true });
    const moved: string[] = [...(previous?.runs ?? [])];
    let freed = 0;
    for (const run of runs) {
      const from = `${runsDir}/${run}`, to = `${dest}/${run}`;
      if (await exists(to)) throw new UsageError(`${to} already exists: the archive holds a run of that name; pass another --as LABEL`);
      try {
        await Deno.rename(from, to);
      } catch (err) {
        const done = moved.length ? `moved so far: ${moved.join(", ")}; ` : "";
        throw new UsageError(`cannot move ${from} to ${to} (${(err as Error).message}); ${done}put --archive-dir on the same filesystem as ${runsDir} and run the command again`);
      }
      moved.push(run);
      // Deleted once the run has moved, so a failed move never loses them.
      if (f["no-checkpoints"] && await exists(`${to}/checkpoints`)) {
        freed += await dirBytes(`${to}/checkpoints`);
        await Deno.remove(`${to}/checkpoints`, { recursive: true });
      }
      // Written after every move, so an interrupted archive says exactly what it holds.
      await writeFileAtomic(manifestPath, JSON.stringify({ pipeline: name, label, archived_at: new Date().toISOString(), runs: moved, checkpoints: !f["no-checkpoints"] }, null, 2) + "\n");
    }
    if (!moved.length) throw new UsageError(`nothing to archive: no runs of the pipeline '${name}' under ${runsDir}`);
    console.log(`archived ${moved.join(", ")} → ${dest}${f["no-checkpoints"] ? ` (checkpoints deleted: ${(freed / 2 ** 20).toFixed(1)} MiB)` : ""}`);
    console.log(`the lab lists them as ${moved.map((r) => `${label}${ARCHIVE_SEP}${r}`).join(", ")} (deno task lab --archive-dir ${f["archive-dir"]})`);
  });
}
