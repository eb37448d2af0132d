// `deno task mutate [--files GLOB,…] [--budget N]`: mutation testing. Plants realistic
// one-line bugs (src/cli/mutate/mutants.ts) in TypeScript and WGSL one at a time, runs
// the test files that reach the mutated file, and reports per folder how many the tests
// kill; every survivor is printed with its location. How to use it: docs/testing.md.
import { walk } from "./mutate/files.ts";
import { coverageMap, isTestFile } from "./mutate/coverage.ts";
import { matchEquivalent, parseEquivalents } from "./mutate/equivalents.ts";
import { applyMutant, describeMutant, findMutants, type Mutant } from "./mutate/mutants.ts";
import { sampleMutants, scores, scoreTable, survivorLines } from "./mutate/report.ts";
import { KernelWorker, type Outcome, runMutant, Sandbox } from "./mutate/runner.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** The core: kernels and every runtime-agnostic and Deno-side library folder (not cli/). */
export const CORE = [
  "kernels/*.wgsl",
  "src/{gpu,nn,model,optim,formats,data,tokenizer,engine,eval,dist,train,server,util,io}/*.ts",
].join(",");

const FLAGS = {
  files: { type: "string", default: CORE, help: "comma-separated globs of the files to mutate (** spans folders, {a,b} alternates)" },
  budget: { type: "number", default: 600, help: "run at most N mutants, sampled evenly over the files (0 = all; the default keeps a run over the core under an hour here)" },
  seed: { type: "number", default: 1, help: "seed of the sample when --budget is set" },
  "timeout-factor": { type: "number", default: 3, help: "a mutant's test file may take this many times its unmutated time (+10 s)" },
  "max-test-seconds": { type: "number", default: 30, help: "leave out test files slower than this unmutated (unless nothing else reaches the file)" },
  "mutant-seconds": { type: "number", default: 90, help: "start no further test file for a mutant after this long (it survives, with the unrun files counted); 0: no limit" },
  list: { type: "boolean", default: false, help: "list the mutants and the tests that would run, then stop" },
  equivalents: { type: "string", default: "tests/mutation/equivalent.txt", help: "reviewed equivalent mutants, left out of the score" },
  report: { type: "string", default: "build/mutate/report.json", help: "where the outcomes go (JSON)" },
} as const;

/** A glob as a regular expression over repo-relative paths. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "{") re += "(?:";
    else if (c === "}") re += ")";
    else if (c === "," && re.lastIndexOf("(?:") > re.lastIndexOf(")")) re += "|";
    else re += c.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Splits a comma list of globs at the commas outside braces. */
export function splitGlobs(list: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = "";
  for (const c of list) {
    if (c === "{") depth++;
    if (c === "}") depth--;
    if (c === "," && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

// Only as a script: tests import the glob helpers above, and must not start a run.
if (import.meta.main) runMain(async (args) => {
  const parsed = parseFlags(args, "mutate", "Mutation testing of TypeScript and WGSL: plant one-line bugs, run the tests that reach them, report what survives.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}' (pass files with --files)`);
  if (!(f.budget >= 0) || !Number.isInteger(f.budget)) throw new UsageError(`--budget must be a non-negative integer, got ${f.budget}`);

  const all = await walk(ROOT, ["src", "tests", "kernels"]);
  const texts = new Map<string, string>();
  for (const p of all) if (p.endsWith(".ts") || p.endsWith(".wgsl")) texts.set(p, await Deno.readTextFile(`${ROOT}/${p}`));
  const globs = splitGlobs(f.files).map(globToRegExp);
  const targets = [...texts.keys()].filter((p) => !p.startsWith("tests/") && globs.some((g) => g.test(p))).sort();
  if (!targets.length) throw new UsageError(`--files ${f.files} matches no .ts or .wgsl file under src/ or kernels/`);
  const coverage = coverageMap(texts, isTestFile);
  const eqText = await Deno.readTextFile(`${ROOT}/${f.equivalents}`).catch(() => "");
  const equivalents = parseEquivalents(eqText, f.equivalents);

  let mutants: Mutant[] = targets.flatMap((p) => findMutants(p, texts.get(p)!));
  const found = mutants.length;
  if (f.budget > 0) mutants = sampleMutants(mutants, f.budget, f.seed);
  const testsOf = (file: string) => [...(coverage.get(file)?.keys() ?? [])].sort();
  const depthOf = (file: string, test: string) => coverage.get(file)?.get(test) ?? Infinity;
  console.log(`${targets.length} files, ${found} mutants${f.budget > 0 ? `, ${mutants.length} sampled (seed ${f.seed})` : ""}; ${equivalents.length} reviewed equivalents`);
  if (f.list) {
    for (const m of mutants) console.log(`${describeMutant(m)}   [${testsOf(m.file).length} test files]${matchEquivalent(m, equivalents) ? "  (equivalent)" : ""}`);
    return;
  }

  const box = await Sandbox.create(ROOT);
  const stop = () => {
    box.destroy().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const started = performance.now();
  const outcomes: Outcome[] = [];
  const kernels = new KernelWorker(box);
  try {
    // Unmutated time of every test file that will run (and a check that it passes here).
    const baseline = new Map<string, number>();
    const needed = [...new Set(mutants.filter((m) => !matchEquivalent(m, equivalents)).flatMap((m) => testsOf(m.file)))].sort();
    console.log(`timing ${needed.length} test files unmutated…`);
    for (const t of needed) {
      const r = await box.runTests([t], 20 * 60_000);
      if (!r.ok) throw new UsageError(`${t} fails without any mutant; fix it before mutation testing:\n${r.output.slice(-2000)}`);
      baseline.set(t, r.ms);
    }
    const slow = [...baseline].filter(([, ms]) => ms > f["max-test-seconds"] * 1000).map(([t]) => t);
    if (slow.length) console.log(`left out as slower than ${f["max-test-seconds"]} s (--max-test-seconds): ${slow.join(", ")}`);
    const testsFor = (file: string) => {
      // Nearest first (the tests written for the file), then fastest.
      const all = testsOf(file).sort((a, b) => depthOf(file, a) - depthOf(file, b) || baseline.get(a)! - baseline.get(b)!);
      const fast = all.filter((t) => !slow.includes(t));
      return fast.length ? fast : all;
    };
    const originals = new Map<string, string>();
    for (const [i, m] of mutants.entries()) {
      const eq = matchEquivalent(m, equivalents);
      const tests = testsFor(m.file);
      let o: Outcome;
      if (!originals.has(m.file)) originals.set(m.file, await box.read(m.file));
      const original = originals.get(m.file)!;
      if (eq) o = { mutant: m, status: "equivalent", tests: [], ms: 0, why: eq.why };
      else if (!tests.length) o = { mutant: m, status: "no-tests", tests: [], ms: 0 };
      else {
        const t0 = performance.now();
        // WGSL: the in-process kernel cases first; only what they do not kill runs the test files.
        const quick = m.file.endsWith(".wgsl") ? await kernels.check(m.file, applyMutant(original, m), 60_000) : undefined;
        if (quick === null) o = { mutant: m, status: "timeout", tests: ["kernel cases"], ms: performance.now() - t0 };
        else if (quick?.killed) o = { mutant: m, status: "killed", tests: ["kernel cases"], ms: performance.now() - t0, failed: quick.failed };
        else o = await runMutant(box, m, tests.map((t) => ({ file: t, ms: baseline.get(t)! })), f["timeout-factor"], original, f["mutant-seconds"] > 0 ? f["mutant-seconds"] * 1000 : Infinity);
      }
      outcomes.push(o);
      const elapsed = performance.now() - started, eta = (elapsed / (i + 1)) * (mutants.length - i - 1);
      console.log(`[${i + 1}/${mutants.length}] ${o.status.padEnd(10)} ${seconds(o.ms).padStart(7)}  ${describeMutant(m)}   (ETA ${seconds(eta)})`);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    kernels.stop();
    await box.destroy();
  }
  const rows = scores(outcomes);
  console.log(`\n${scoreTable(rows)}\n`);
  const survivors = survivorLines(outcomes);
  console.log(survivors.length ? `survivors (${survivors.length}):\n${survivors.join("\n")}` : "no survivors");
  console.log(`\n${outcomes.length} mutants in ${seconds(performance.now() - started)}`);
  await Deno.mkdir(`${ROOT}/${f.report.slice(0, f.report.lastIndexOf("/"))}`, { recursive: true });
  await Deno.writeTextFile(`${ROOT}/${f.report}`, JSON.stringify({ files: f.files, budget: f.budget, seed: f.seed, scores: rows, outcomes }, null, 1) + "\n");
});
