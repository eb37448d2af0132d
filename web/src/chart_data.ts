// What the curves plot, apart from drawing them (so Deno tests can check it): the four
// metrics with their record type, field and unit, and the (step, value) pairs of a run.
import type { MetricsRecord } from "./api.ts";
import { fmtNum, fmtRate } from "./format.ts";

export interface MetricSpec {
  key: string;
  title: string;
  /** The record type and field plotted. */
  type: "train" | "eval";
  field: string;
  /** Smoothed alternative the EMA toggle switches to. */
  emaField?: string;
  unit: string;
  format: (v: number) => string;
  /** Whether a log y axis makes sense by default. */
  logDefault: boolean;
}

export const METRICS: Record<string, MetricSpec> = {
  loss: {
    key: "loss", title: "Training loss", type: "train", field: "loss", emaField: "loss_ema", unit: "nats/token",
    format: (v) => `${fmtNum(v)} nats`, logDefault: false,
  },
  val_bpb: {
    key: "val_bpb", title: "Validation bits per byte", type: "eval", field: "val_bpb", unit: "bits/byte",
    format: (v) => `${fmtNum(v)} bpb`, logDefault: false,
  },
  lrm: {
    key: "lrm", title: "Learning-rate multiplier", type: "train", field: "lrm", unit: "× base LR",
    format: (v) => `${fmtNum(v, 3)}×`, logDefault: false,
  },
  tok_per_sec: {
    key: "tok_per_sec", title: "Throughput", type: "train", field: "tok_per_sec", unit: "tokens/s",
    format: (v) => fmtRate(v), logDefault: false,
  },
};

/** The (step, value) pairs of one metric in a run's records; a later record of the same step wins (resumed runs). */
export function metricPoints(records: readonly MetricsRecord[], type: string, field: string): { xs: number[]; ys: (number | null)[] } {
  const byStep = new Map<number, number | null>();
  for (const r of records) {
    if (r.type !== type || typeof r.step !== "number" || !Number.isFinite(r.step)) continue;
    const v = r[field];
    byStep.set(r.step, typeof v === "number" && Number.isFinite(v) ? v : null);
  }
  const xs = [...byStep.keys()].sort((a, b) => a - b);
  return { xs, ys: xs.map((x) => byStep.get(x)!) };
}


/** What the curves use on x: the step, the tokens trained on by then, or seconds since the run's first record. */
export type XAxis = "step" | "tokens" | "time";
export const X_AXES: readonly XAxis[] = ["step", "tokens", "time"];
export const X_LABEL: Record<XAxis, string> = { step: "step", tokens: "tokens", time: "seconds" };

/**
 * A metric's (x, value) pairs for one run. tokens: a train record of step s has trained on
 * (s + 1) batches, an evaluation at step s on s of them (needs the run's tokens per step);
 * time: seconds after the run's first timed record. Points without an x are left out.
 */
export function metricSeries(
  records: readonly MetricsRecord[], type: string, field: string, x: XAxis, batchTokens: number | null,
): { xs: number[]; ys: (number | null)[] } {
  const { xs: steps, ys } = metricPoints(records, type, field);
  if (x === "step") return { xs: steps, ys };
  const out = { xs: [] as number[], ys: [] as (number | null)[] };
  if (x === "tokens") {
    if (!(batchTokens && batchTokens > 0)) return out;
    steps.forEach((s, i) => (out.xs.push((type === "train" ? s + 1 : s) * batchTokens), out.ys.push(ys[i])));
    return out;
  }
  // time: the last record of each step carries the time (as metricPoints keeps the last value).
  const t0 = records.find((r) => typeof r.time === "number")?.time as number | undefined;
  const at = new Map<number, number>();
  for (const r of records) if (r.type === type && typeof r.step === "number" && typeof r.time === "number") at.set(r.step, r.time);
  if (t0 === undefined) return out;
  steps.forEach((s, i) => {
    const t = at.get(s);
    if (t !== undefined) out.xs.push(t - t0), out.ys.push(ys[i]);
  });
  return out;
}

/**
 * Exponential moving average with TensorBoard's debiasing (weight `smoothing` on the past,
 * 0 = off): the first point is itself, not pulled toward 0. Gaps stay gaps.
 */
export function smooth(ys: readonly (number | null)[], smoothing: number): (number | null)[] {
  if (!(smoothing > 0)) return [...ys];
  const a = Math.min(smoothing, 0.999);
  let ema = 0, n = 0;
  return ys.map((y) => {
    if (y === null) return null;
    ema = a * ema + (1 - a) * y;
    n++;
    return ema / (1 - a ** n);
  });
}

/** The spec of any logged metric: one of the four above, or "train:grad_norm", "eval:pass@1", …. */
export function metricSpec(key: string): MetricSpec {
  if (METRICS[key]) return METRICS[key];
  const m = /^(train|eval):(.+)$/.exec(key);
  const type = (m?.[1] ?? "train") as "train" | "eval", field = m?.[2] ?? key;
  return { key, title: `${field} (${type})`, type, field, unit: field, format: (v) => fmtNum(v), logDefault: false };
}

const NOT_METRICS = new Set(["type", "step", "time"]);

/** Every numeric field the records log ("train:grad_norm", …) that the fixed charts do not already show. */
export function loggedMetrics(records: readonly MetricsRecord[]): string[] {
  const shown = new Set(Object.values(METRICS).flatMap((s) => [`${s.type}:${s.field}`, ...(s.emaField ? [`${s.type}:${s.emaField}`] : [])]));
  const out = new Set<string>();
  for (const r of records) {
    if (r.type !== "train" && r.type !== "eval") continue;
    for (const [k, v] of Object.entries(r)) if (!NOT_METRICS.has(k) && typeof v === "number" && !shown.has(`${r.type}:${k}`)) out.add(`${r.type}:${k}`);
  }
  return [...out].sort();
}

/** A chart's data as CSV: x, then one column per run (empty where a run has no point there). */
export function chartCsv(xName: string, runs: readonly string[], data: readonly (readonly (number | null | undefined)[])[]): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [[xName, ...runs].map(quote).join(",")];
  const xs = data[0] ?? [];
  for (let i = 0; i < xs.length; i++) lines.push(data.map((col) => (col[i] === null || col[i] === undefined ? "" : String(col[i]))).join(","));
  return lines.join("\n") + "\n";
}
