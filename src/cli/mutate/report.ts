// Scores: per folder, the share of mutants the tests kill, out of those that could be
// killed — equivalent mutants (reviewed, tests/mutation/equivalent.txt) are left out;
// a timeout counts as killed (the mutant hung the tests); a mutant no test reaches counts
// as a survivor, since nothing would notice the bug.
import type { Mutant } from "./mutants.ts";
import { describeMutant } from "./mutants.ts";
import type { Outcome } from "./runner.ts";
import { Rng } from "../../util/rng.ts";

/** The folder a file's mutants are scored under: kernels/, or src/<folder>. */
export function folderOf(file: string): string {
  if (file.startsWith("kernels/")) return "kernels";
  const parts = file.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
}

export interface FolderScore {
  folder: string;
  mutants: number;
  killed: number;
  timeout: number;
  survived: number;
  noTests: number;
  equivalent: number;
  /** killed + timeout over everything but the equivalents; null when nothing counts. */
  score: number | null;
}

export function scores(outcomes: readonly Outcome[]): FolderScore[] {
  const by = new Map<string, FolderScore>();
  for (const o of outcomes) {
    const folder = folderOf(o.mutant.file);
    const s = by.get(folder) ?? { folder, mutants: 0, killed: 0, timeout: 0, survived: 0, noTests: 0, equivalent: 0, score: null };
    s.mutants++;
    if (o.status === "killed") s.killed++;
    else if (o.status === "timeout") s.timeout++;
    else if (o.status === "survived") s.survived++;
    else if (o.status === "no-tests") s.noTests++;
    else s.equivalent++;
    by.set(folder, s);
  }
  for (const s of by.values()) {
    const counted = s.mutants - s.equivalent;
    s.score = counted > 0 ? (s.killed + s.timeout) / counted : null;
  }
  return [...by.values()].sort((a, b) => a.folder.localeCompare(b.folder));
}

export function scoreTable(rows: readonly FolderScore[]): string {
  const total = rows.reduce((t, r) => ({
    ...t, mutants: t.mutants + r.mutants, killed: t.killed + r.killed, timeout: t.timeout + r.timeout,
    survived: t.survived + r.survived, noTests: t.noTests + r.noTests, equivalent: t.equivalent + r.equivalent,
  }), { folder: "all", mutants: 0, killed: 0, timeout: 0, survived: 0, noTests: 0, equivalent: 0, score: null as number | null });
  const counted = total.mutants - total.equivalent;
  total.score = counted ? (total.killed + total.timeout) / counted : null;
  const lines = ["| folder | mutants | killed | timeout | survived | no tests | equivalent | score |", "|---|---|---|---|---|---|---|---|"];
  for (const r of [...rows, total]) {
    lines.push(`| ${r.folder} | ${r.mutants} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noTests} | ${r.equivalent} | ${r.score === null ? "—" : `${(100 * r.score).toFixed(1)}%`} |`);
  }
  return lines.join("\n");
}

export function survivorLines(outcomes: readonly Outcome[]): string[] {
  return outcomes
    .filter((o) => o.status === "survived" || o.status === "no-tests")
    .map((o) => {
      const note = o.status === "no-tests" ? "  (no test reaches this file)" : o.unrun ? `  (${o.tests.length} of ${o.tests.length + o.unrun} test files run: the --mutant-seconds budget ran out)` : "";
      return `${describeMutant(o.mutant)}${note}\n    ${o.mutant.lineText}`;
    });
}

/**
 * At most `budget` mutants, spread over the files: each file's mutants are shuffled
 * (seeded), then files take turns, so a small budget still samples every file. The
 * result is in file order, so a file's mutants run together.
 */
export function sampleMutants(mutants: readonly Mutant[], budget: number, seed: number): Mutant[] {
  if (budget >= mutants.length) return [...mutants];
  const rng = new Rng(seed);
  const byFile = new Map<string, Mutant[]>();
  for (const m of mutants) byFile.set(m.file, [...(byFile.get(m.file) ?? []), m]);
  const queues = [...byFile.values()].map((list) => {
    const a = [...list];
    for (let i = a.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  });
  const picked: Mutant[] = [];
  while (picked.length < budget) {
    for (const q of queues) if (q.length && picked.length < budget) picked.push(q.shift()!);
  }
  const order = new Map(mutants.map((m, i) => [m, i]));
  return picked.sort((a, b) => order.get(a)! - order.get(b)!);
}
