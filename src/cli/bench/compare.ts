// `deno task bench <name> [flags] --baseline REV [--rounds N]`: the same benchmark on this
// tree and on REV (checked out in a temporary git worktree), alternating which runs first,
// N rounds; prints each figure's median and spread for both and the ratio. Software
// adapters drift by tens of percent between minutes, so only figures measured side by side
// in one window are compared, and the spread says how far to trust a ratio.
import { UsageError } from "../args.ts";

/** A benchmark's closing markdown table (the last one it prints): header and rows. */
export interface BenchTable {
  header: string[];
  rows: string[][];
}

/** The last markdown table in a benchmark's output (null when it printed none). */
export function lastMarkdownTable(output: string): BenchTable | null {
  const lines = output.split("\n");
  let end = -1;
  for (let i = lines.length - 1; i > 0; i--) {
    if (/^\|.*\|\s*$/.test(lines[i]) && end < 0) end = i;
    if (end >= 0 && /^\|(\s*:?-+:?\s*\|)+\s*$/.test(lines[i])) {
      const cells = (line: string) => line.trim().slice(1, -1).split("|").map((c) => c.trim());
      const header = cells(lines[i - 1]);
      const rows = lines.slice(i + 1, end + 1).map(cells);
      return { header, rows };
    }
    if (end >= 0 && !/^\|/.test(lines[i])) end = -1; // a table line run without a separator
  }
  return null;
}

/** The number in a cell ("1,234", "3.2×", "45.1%", "0.97 GiB"), or null for text. */
export function cellNumber(cell: string): number | null {
  const m = /^(-?[\d,]*\.?\d+(?:e[-+]?\d+)?)\s*(?:×|%|ms|s|GiB|MiB|tok\/s)?$/i.exec(cell.trim());
  return m ? Number(m[1].replaceAll(",", "")) : null;
}

/** Whether a column's larger value is better (rates), smaller (times) or neither (sizes, counts). */
export function columnSense(header: string): "higher" | "lower" | "none" {
  if (/\/s\b|per s|mfu|speed-up|throughput/i.test(header)) return "higher";
  if (/\bms\b|\bseconds?\b|\(s\)|time/i.test(header)) return "lower";
  return "none";
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Half the range as a percentage of the median: how far apart the rounds landed. */
export function spreadPct(xs: number[]): number {
  const m = median(xs);
  return m === 0 ? 0 : (50 * (Math.max(...xs) - Math.min(...xs))) / Math.abs(m);
}

export interface Comparison {
  header: string[];
  rows: string[][];
}

/**
 * One row per (row, numeric column) present in every round of both: median ± spread for
 * each side, the ratio this/baseline, and the speed-up (the ratio turned so that > 1 is
 * faster: rates as they are, times inverted; blank for sizes and counts).
 */
export function compareTables(current: BenchTable[], baseline: BenchTable[]): Comparison {
  const header = ["row", "figure", "this (median ± spread)", "baseline (median ± spread)", "this / baseline", "speed-up"];
  const rows: string[][] = [];
  const ref = current[0];
  if (!ref) return { header, rows };
  // Several rows can share a first cell (bench infer: one per batch size): the n-th row
  // with a first cell matches the n-th row with it in every other round.
  const nth = (rows: string[][], i: number) => rows.slice(0, i).filter((r) => r[0] === rows[i][0]).length;
  const values = (tables: BenchTable[], rowKey: string, n: number, col: string): number[] | null => {
    const out: number[] = [];
    for (const t of tables) {
      const c = t.header.indexOf(col), r = t.rows.filter((row) => row[0] === rowKey)[n];
      const v = c < 0 || !r ? null : cellNumber(r[c] ?? "");
      if (v === null) return null;
      out.push(v);
    }
    return out;
  };
  const fmt = (xs: number[]) => {
    const m = median(xs);
    const digits = Math.abs(m) >= 100 ? 0 : Math.abs(m) >= 10 ? 1 : 2;
    return `${m.toFixed(digits)} ± ${spreadPct(xs).toFixed(0)}%`;
  };
  for (const [i, row] of ref.rows.entries()) {
    const n = nth(ref.rows, i);
    const twins = ref.rows.filter((r) => r[0] === row[0]);
    // A shared first cell is told apart by the first column where those rows differ.
    const j = twins.length > 1 ? ref.header.findIndex((_, c) => c > 0 && new Set(twins.map((r) => r[c])).size > 1) : -1;
    const label = j > 0 ? `${row[0]} (${ref.header[j]} ${row[j]})` : row[0];
    for (const col of ref.header.slice(1)) {
      const a = values(current, row[0], n, col), b = values(baseline, row[0], n, col);
      if (!a || !b) continue;
      const ratio = median(a) / median(b);
      const sense = columnSense(col);
      const speedup = sense === "higher" ? ratio : sense === "lower" ? 1 / ratio : null;
      rows.push([label, col, fmt(a), fmt(b), Number.isFinite(ratio) ? `${ratio.toFixed(2)}` : "—", speedup === null || !Number.isFinite(speedup) ? "" : `${speedup.toFixed(2)}×`]);
    }
  }
  return { header, rows };
}

/** Removes --baseline REV and --rounds N from a benchmark's args. */
export function splitCompareArgs(args: readonly string[]): { rev: string | null; rounds: number; rest: string[] } {
  const rest: string[] = [];
  let rev: string | null = null, rounds = 3;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const take = (name: string) => {
      if (a === `--${name}`) {
        const v = args[++i];
        if (v === undefined || v.startsWith("--")) throw new UsageError(`--${name} needs a value`);
        return v;
      }
      return a.startsWith(`--${name}=`) ? a.slice(name.length + 3) : null;
    };
    const r = take("baseline");
    if (r !== null) {
      rev = r;
      continue;
    }
    const n = take("rounds");
    if (n !== null) {
      rounds = Number(n);
      if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds must be a positive integer, got ${n}`);
      continue;
    }
    rest.push(a);
  }
  return { rev, rounds, rest };
}

const ROOT = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");

async function git(args: string[], cwd = ROOT): Promise<string> {
  const r = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) throw new UsageError(`git ${args.join(" ")} failed: ${new TextDecoder().decode(r.stderr).trim()}`);
  return new TextDecoder().decode(r.stdout).trim();
}

async function runBench(tree: string, name: string, args: string[]): Promise<{ out: string; seconds: number }> {
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/bench.ts", name, ...args], cwd: tree, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(r.stdout);
  if (!r.success) {
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").slice(-8).join("\n");
    throw new UsageError(`'deno task bench ${name} ${args.join(" ")}' failed in ${tree} (exit ${r.code}):\n${err}`);
  }
  return { out, seconds: (performance.now() - t0) / 1000 };
}

/** Runs benchmark `name` on this tree and on `rev`, alternating, and prints the comparison. */
export async function runComparison(name: string, args: readonly string[]): Promise<void> {
  const { rev, rounds, rest } = splitCompareArgs(args);
  if (!rev) throw new UsageError("--baseline REV is required");
  const commit = await git(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]).catch(() => {
    throw new UsageError(`--baseline ${rev}: not a commit of this repository (try a hash from 'git log')`);
  });
  const head = await git(["rev-parse", "--short", "HEAD"]);
  const dirty = (await git(["status", "--porcelain", "--untracked-files=no"])) !== "";
  const dir = await Deno.makeTempDir({ prefix: `nanochat-baseline-${commit.slice(0, 8)}-` });
  const cleanup = () => {
    try {
      new Deno.Command("git", { args: ["worktree", "remove", "--force", dir], cwd: ROOT, stdout: "null", stderr: "null" }).outputSync();
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  };
  const onSignal = () => {
    cleanup();
    Deno.exit(130);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, onSignal);
  try {
    await Deno.remove(dir); // git worktree add wants to create it
    await git(["worktree", "add", "--detach", dir, commit]);
    console.log(`bench ${name} ${rest.join(" ")}: this tree (${head}${dirty ? ", with uncommitted changes" : ""}) vs ${rev} (${commit.slice(0, 10)}), ${rounds} rounds, alternating`);
    const current: BenchTable[] = [], baseline: BenchTable[] = [];
    for (let r = 0; r < rounds; r++) {
      const order: ["this" | "baseline", string][] = [["this", ROOT], ["baseline", dir]];
      if (r % 2) order.reverse();
      const took: string[] = [];
      for (const [side, tree] of order) {
        const { out, seconds } = await runBench(tree, name, rest);
        const table = lastMarkdownTable(out);
        if (!table) throw new UsageError(`bench ${name} on ${side === "this" ? "this tree" : rev} printed no markdown table to compare`);
        (side === "this" ? current : baseline).push(table);
        took.push(`${side} ${seconds.toFixed(0)} s`);
      }
      console.log(`round ${r + 1}/${rounds}: ${took.join(", ")}`);
    }
    const cmp = compareTables(current, baseline);
    if (!cmp.rows.length) throw new UsageError(`bench ${name}: the two trees' tables share no numeric figures (different rows or columns?)`);
    console.log("\n" + [`| ${cmp.header.join(" | ")} |`, `|${cmp.header.map(() => "---").join("|")}|`, ...cmp.rows.map((row) => `| ${row.join(" | ")} |`)].join("\n"));
    console.log(`\n(spread: half the range over ${rounds} rounds, as % of the median; speed-up > 1 means this tree is faster)`);
  } finally {
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, onSignal);
    cleanup();
  }
}
