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

