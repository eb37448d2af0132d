// The shapes the lab server's JSON API answers with. Types only (no Deno APIs), so the
// server (src/server/runs.ts) and the page (web/src/api.ts) describe the API once.
import type { RunStatus } from "./metrics.ts";

/**
 * run.json's status; "unknown" when the server cannot read run.json; "interrupted" when
 * run.json says running but no live process holds the run's owner lock (killed, or the
 * machine went down), so it will never update itself.
 */
export type SummaryStatus = RunStatus | "unknown" | "interrupted";

export interface RunSummary {
  name: string;
  status: SummaryStatus;
  stage: string | null;
  adapter: string | null;
  /** Latest step: the higher of run.json's step and the last step in metrics.jsonl. */
  step: number | null;
  started_at: string | null;
  /** The later of run.json's updated_at and metrics.jsonl's modification time. */
  updated_at: string | null;
  config: Record<string, unknown> | null;
  last_loss: number | null;
  last_val_bpb: number | null;
  tok_per_sec: number | null;
  /** Steps of the complete checkpoints, ascending. */
  checkpoints: number[];
  /** Whether the run has a pipeline report (report/report.json, written by `deno task report`). */
  report: boolean;
  /** Why the run failed (run.json's error), or what is wrong with its files. */
  error?: string;
}

export interface CheckpointFile {
  name: string;
  size: number;
}

export interface CheckpointDetail {
  step: number;
  files: CheckpointFile[];
  /** meta.json as parsed, or null when it could not be read (then `error` says why). */
  meta: unknown;
  error?: string;
}

/** A parquet shard the lab serves for in-tab training (GET /api/data). */
export interface DataShard {
  name: string;
  bytes: number;
  /** From manifest.json (data prepare) or downloads.json (data download); null: unverifiable. */
  sha256: string | null;
}

/** GET /api/data: the shards and tokenizer the page's training reads, or why there are none. */
export interface DataInfo {
  /** The shards, sorted by name (the last one is validation, as under Deno). */
  shards: DataShard[];
  /** The tokenizer's files (tokenizer.json, …) when the tokenizer directory has one. */
  tokenizer: string[];
  /** What to run when something is missing; null when training can start. */
  missing: string | null;
}
