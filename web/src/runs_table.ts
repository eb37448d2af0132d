// The runs table's arithmetic, apart from the element so it can be tested without a page:
// each run's runtime and ETA, sorting by any column, and the filter box.
import type { RunSummary } from "./api.ts";

/** Seconds from the start to the last update (to now while the run is running); null without a start. */
export function runtimeSeconds(r: RunSummary, now = Date.now()): number | null {
  const start = Date.parse(r.started_at ?? "");
  if (!Number.isFinite(start)) return null;
  const end = r.status === "running" ? now : Date.parse(r.updated_at ?? "");
  return Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null;
}

/** The run's planned steps (num_iterations), or null when the config leaves it to a horizon rule. */
export function totalSteps(r: RunSummary): number | null {
  const n = r.config?.num_iterations;
  return typeof n === "number" && n > 0 ? n : null;
}

/** A running run's remaining seconds at its pace so far; null when it is not running or its pace is unknown. */
export function etaSeconds(r: RunSummary, now = Date.now()): number | null {
  const total = totalSteps(r), t = runtimeSeconds(r, now);
  if (r.status !== "running" || total === null || t === null || !r.step || r.step <= 0) return null;
  return Math.max(0, (t / r.step) * (total - r.step));
}

export const SORT_KEYS = ["name", "status", "stage", "step", "loss", "bpb", "rate", "runtime", "eta", "updated"] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = "asc" | "desc";

function sortValue(r: RunSummary, key: SortKey, now: number): number | string | null {
  switch (key) {
    case "name": return r.name;
    case "status": return r.status;
    case "stage": return r.stage;
    case "step": return r.step;
    case "loss": return r.last_loss;
    case "bpb": return r.last_val_bpb;
    case "rate": return r.tok_per_sec;
    case "runtime": return runtimeSeconds(r, now);
    case "eta": return etaSeconds(r, now);
    case "updated": return Date.parse(r.updated_at ?? "") || null;
  }
}

/** Runs sorted by a column; runs without a value go last in either direction, ties by name. */
export function sortRuns(runs: readonly RunSummary[], key: SortKey, dir: SortDir, now = Date.now()): RunSummary[] {
  const sign = dir === "asc" ? 1 : -1;
  return [...runs].sort((a, b) => {
    const va = sortValue(a, key, now), vb = sortValue(b, key, now);
    if (va === null || vb === null) return va === vb ? a.name.localeCompare(b.name) : va === null ? 1 : -1;
    const c = typeof va === "number" && typeof vb === "number" ? va - vb : String(va).localeCompare(String(vb));
    return c !== 0 ? sign * c : a.name.localeCompare(b.name);
  });
}

/** Runs whose name, status, stage or adapter contains every word of the query (case-insensitive). */
export function filterRuns(runs: readonly RunSummary[], query: string): RunSummary[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...runs];
  return runs.filter((r) => {
    const hay = [r.name, r.status, r.stage ?? "", r.adapter ?? ""].join(" ").toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

export interface CompareRow {
  field: string;
  values: unknown[];
  /** Whether the runs do not all have the same value. */
  differs: boolean;
}

/** Config fields of several runs side by side (every field any of them has, in first-seen order), differences marked. */
export function compareConfigs(runs: readonly RunSummary[]): CompareRow[] {
  const fields: string[] = [];
  for (const r of runs) for (const k of Object.keys(r.config ?? {})) if (!fields.includes(k)) fields.push(k);
  return fields.map((field) => {
    const values = runs.map((r) => (r.config && field in r.config ? r.config[field] : undefined));
    const shown = values.map((v) => JSON.stringify(v));
    return { field, values, differs: shown.some((v) => v !== shown[0]) };
  });
}
