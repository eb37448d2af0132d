// The lab server's JSON API as the page sees it: the shapes it answers with and small
// fetch helpers whose errors carry the server's own {error} message.

export type MetricsRecord = Record<string, unknown> & { type?: string; step?: number };

export type { CheckpointDetail as CheckpointEntry, CheckpointFile, RunSummary } from "../../src/formats/lab_api.ts";
import type { CheckpointDetail as CheckpointEntry, RunSummary } from "../../src/formats/lab_api.ts";

/** An answer the server gave with a non-2xx status; `message` is its {error} text when it sent one. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(readonly status: number, message: string, readonly url: string) {
    super(message);
  }
}

/** Base URL of the API; the page is served by the lab server itself, so "" (same origin). */
let apiBase = "";
export function setApiBase(base: string): void {
  apiBase = base.replace(/\/+$/, "");
}
export function apiUrl(path: string): string {
  return `${apiBase}${path}`;
}

export const runUrl = (run: string, rest = "") => apiUrl(`/api/runs/${encodeURIComponent(run)}${rest}`);

/** Reads the {error} of a failed response, falling back to its status line. */
export async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text) as { error?: unknown };
      if (typeof body.error === "string") message = body.error;
    } catch {
      if (text.trim()) message = `${message}: ${text.trim().slice(0, 200)}`;
    }
  } catch { /* body unreadable: keep the status */ }
  return new ApiError(res.status, message, res.url);
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: "application/json" } });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, `cannot reach the lab server (${(err as Error).message}); is 'deno task lab' still running?`, url);
  }
  if (!res.ok) throw await errorOf(res);
  return await res.json() as T;
}

export async function fetchRuns(signal?: AbortSignal): Promise<RunSummary[]> {
  const body = await getJson<{ runs: RunSummary[] }>(apiUrl("/api/runs"), signal);
  return body.runs ?? [];
}

export async function fetchMetrics(run: string, signal?: AbortSignal): Promise<MetricsRecord[]> {
  const body = await getJson<{ records: MetricsRecord[] }>(runUrl(run, "/metrics"), signal);
  return body.records ?? [];
}

export async function fetchCheckpoints(run: string, signal?: AbortSignal): Promise<CheckpointEntry[]> {
  const body = await getJson<{ checkpoints: CheckpointEntry[] }>(runUrl(run, "/checkpoints"), signal);
  return body.checkpoints ?? [];
}

/** Sample records ({type:"sample", step, samples}) of a run, newest last. */
export async function fetchSamples(run: string, signal?: AbortSignal): Promise<MetricsRecord[]> {
  const body = await getJson<{ samples?: MetricsRecord[]; records?: MetricsRecord[] }>(runUrl(run, "/samples"), signal);
  return body.samples ?? body.records ?? [];
}

export const checkpointFileUrl = (run: string, step: number, file: string) =>
  runUrl(run, `/checkpoints/${step}/${encodeURIComponent(file)}`);
export const tokenizerFileUrl = (run: string, file: string) => runUrl(run, `/tokenizer/${encodeURIComponent(file)}`);
