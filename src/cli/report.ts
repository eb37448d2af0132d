// `deno task report [--run NAME] [--runs-dir DIR]`: the report card of one pipeline —
// runs/<NAME>/report/report.md (+ report.json for the lab, one SVG curve per stage) from
// the runs NAME, NAME-mid, NAME-sft and NAME-rl (whichever exist).
import { newestPipeline, writeReport } from "../report/deno_report.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";

export const REPORT_FLAGS = {
  run: { type: "string", default: "", help: "the pipeline's base run (default: the newest base run)" },
  "runs-dir": { type: "string", default: "runs", help: "where the runs are" },
} as const;

runMain(async (args) => {
  const parsed = parseFlags(args, "report", "Write the report card of a pipeline (base → mid → SFT → RL) from its runs.", REPORT_FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const name = f.run || await newestPipeline(f["runs-dir"]);
  if (!name) throw new UsageError(`no base runs under ${f["runs-dir"]}: train one first (deno task pipeline, or deno task train base)`);
  const { dir, report } = await writeReport(f["runs-dir"], name);
  const cols = report.table.columns;
  console.log(`| metric | ${cols.join(" | ")} |\n|---|${cols.map(() => "---|").join("")}`);
  for (const r of report.table.rows) console.log(`| ${r.metric} | ${r.values.join(" | ")} |`);
  console.log(`\nwrote ${dir}/report.md (and report.json, ${report.stages.filter((s) => s.curve).length} curves)`);
});
