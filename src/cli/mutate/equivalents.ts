// Reviewed equivalent mutants: edits that cannot change behaviour (a tile size that only
// changes speed, a bound that can never be reached). They are listed, one per line, in
// tests/mutation/equivalent.txt, and left out of the score instead of counting as
// survivors. A line names the file (with the line number at the time of review, for the
// reader), the line's code, the edit, and why:
//
//   src/nn/matmul.ts:154  const WG_X = opts.tile?.WG_X ?? 16, …  «16 → 17»  tile shape: speed only
//
// Matching is by file, the line's code and the edit, so entries survive unrelated edits
// that move lines; an entry whose line no longer exists is reported as stale.
import type { Mutant } from "./mutants.ts";

export interface Equivalent {
  file: string;
  line: number;
  lineText: string;
  edit: string;
  why: string;
  /** 1-based line in equivalent.txt, for messages. */
  source: number;
}

export function editOf(m: Mutant): string {
  return m.operator === "statement" ? "drop" : `${m.original} → ${m.replacement}`;
}

const LINE = /^(\S+?):(\d+)\s{2,}(.+?)\s{2,}«(.+?)»\s{2,}(.+)$/;

export function parseEquivalents(text: string, source = "tests/mutation/equivalent.txt"): Equivalent[] {
  const out: Equivalent[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line.trim() === "" || line.startsWith("#")) return;
    const m = line.match(LINE);
    if (!m) throw new Error(`${source}:${i + 1}: expected 'file:line  code  «edit»  why', got ${JSON.stringify(line.slice(0, 120))}`);
    out.push({ file: m[1], line: Number(m[2]), lineText: m[3], edit: m[4], why: m[5], source: i + 1 });
  });
  return out;
}

export function formatEquivalent(m: Mutant, why: string): string {
  return `${m.file}:${m.line}  ${m.lineText}  «${editOf(m)}»  ${why}`;
}

/** The entry a mutant matches, if any. */
export function matchEquivalent(m: Mutant, list: readonly Equivalent[]): Equivalent | null {
  const edit = editOf(m);
  return list.find((e) => e.file === m.file && e.lineText === m.lineText && e.edit === edit) ?? null;
}
