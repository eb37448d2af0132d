// Number, size and time formatting shared by the views (units always shown).

export function fmtNum(v: unknown, digits = 4): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

/** "1 token", "3 tokens", "1,024 tokens": a count with its noun in the right number. */
export function fmtCount(n: number, noun: string, plural = `${noun}s`): string {
  return `${fmtInt(n)} ${n === 1 ? noun : plural}`;
}

export function fmtInt(v: unknown): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  return Math.round(v).toLocaleString("en-US");
}

/** Tokens per second with k/M suffixes: "1.14k tok/s". */
export function fmtRate(v: unknown, unit = "tok/s"): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  const s = a >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : a >= 1e3 ? `${(v / 1e3).toFixed(2)}k` : v.toFixed(a >= 100 ? 0 : 1);
  return `${s} ${unit}`;
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Megabytes (10^6 bytes) with two decimals, as the cache panel shows them. */
export function fmtMB(n: number): string {
  return `${(n / 1e6).toFixed(2)} MB`;
}

/** "12 s ago", "3 min ago", "2 h ago", else the date. */
export function fmtAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 16).replace("T", " ");
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
