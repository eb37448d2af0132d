// <runs-list>: the table of runs. Each row: a plot checkbox in the run's curve colour,
// name, status badge, stage, adapter, step, last loss, validation bpb, throughput,
// runtime, ETA and when it last changed. A header click sorts by that column (again:
// the other way); the filter box keeps the runs matching every word. Clicking a row
// opens its details; the checkbox overlays its curves. Emits "toggle-run" and
// "activate-run" (detail: the run name).
import { html, LitElement, nothing } from "lit";
import type { RunSummary } from "./api.ts";
import { fmtAgo, fmtDuration, fmtInt, fmtNum, fmtRate } from "./format.ts";
import { etaSeconds, filterRuns, runtimeSeconds, type SortDir, type SortKey, sortRuns, totalSteps } from "./runs_table.ts";

/** Columns a header click sorts by: [key, label, numeric (right-aligned, largest first on the first click)]. */
const COLUMNS: [SortKey, string, boolean][] = [
  ["name", "run", false], ["status", "status", false], ["stage", "stage", false], ["step", "step", true], ["loss", "loss", true],
  ["bpb", "val", true], ["rate", "throughput", true], ["runtime", "runtime", true], ["eta", "ETA", true], ["updated", "updated", true],
];
const UNITS: Partial<Record<SortKey, string>> = { loss: "nats", bpb: "bpb" };

export function statusBadge(status: string) {
  return html`<span class="badge badge-${status}" data-testid="status-badge">${status}</span>`;
}

export class RunsList extends LitElement {
  static override properties = {
    runs: { attribute: false },
    selected: { attribute: false },
    colors: { attribute: false },
    active: { type: String },
    loading: { type: Boolean },
    error: { type: String },
    sortKey: { state: true },
    sortDir: { state: true },
    query: { state: true },
  };

  declare runs: RunSummary[];
  declare selected: Set<string>;
  declare colors: Map<string, string>;
  declare active: string | null;
  declare loading: boolean;
  declare error: string | null;
  /** null: the order the view gives (newest first). */
  declare sortKey: SortKey | null;
  declare sortDir: SortDir;
  declare query: string;

  private tick: ReturnType<typeof setInterval> | null = null;

  constructor() {
    super();
    this.runs = [];
    this.selected = new Set();
    this.colors = new Map();
    this.active = null;
    this.loading = false;
    this.error = null;
    this.sortKey = null;
    this.sortDir = "asc";
    this.query = "";
  }

  private sortBy(key: SortKey, numeric: boolean): void {
    if (this.sortKey === key) this.sortDir = this.sortDir === "asc" ? "desc" : "asc";
    else [this.sortKey, this.sortDir] = [key, numeric ? "desc" : "asc"];
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.tick = setInterval(() => this.requestUpdate(), 15_000); // keeps "updated … ago" fresh
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    if (this.tick) clearInterval(this.tick);
  }

  /** Keyboard: Enter opens a row's details, Space ticks it for the charts, ↑/↓ move between rows. */
  private onRowKey(e: KeyboardEvent, name: string): void {
    if (e.target !== e.currentTarget) return; // keys typed into the row's checkbox stay its own
    const row = e.currentTarget as HTMLElement;
    if (e.key === "Enter") this.emit("activate-run", name);
    else if (e.key === " ") this.emit("toggle-run", name);
    else if (e.key === "ArrowDown") (row.nextElementSibling as HTMLElement | null)?.focus();
    else if (e.key === "ArrowUp") (row.previousElementSibling as HTMLElement | null)?.focus();
    else return;
    e.preventDefault();
  }

  private emit(type: string, name: string): void {
    this.dispatchEvent(new CustomEvent(type, { detail: name, bubbles: true, composed: true }));
  }

  protected override render() {
    const now = Date.now();
    const filtered = filterRuns(this.runs, this.query);
    const shown = this.sortKey ? sortRuns(filtered, this.sortKey, this.sortDir, now) : filtered;
    const header = ([key, label, numeric]: [SortKey, string, boolean]) => {
      const sorted = this.sortKey === key ? (this.sortDir === "asc" ? "ascending" : "descending") : "none";
      return html`<th class=${numeric ? "num" : ""} aria-sort=${sorted} data-testid="sort-${key}">
        <button class="sort" @click=${() => this.sortBy(key, numeric)} title="sort by ${label}">${label}${UNITS[key] ? html` <span class="unit">${UNITS[key]}</span>` : nothing}<span class="sort-mark">${sorted === "ascending" ? " ▲" : sorted === "descending" ? " ▼" : ""}</span></button></th>`;
    };
    return html`
      ${this.runs.length > 1 || this.query
        ? html`<div class="runs-filter"><input type="search" data-testid="runs-filter" placeholder="filter runs (name, status, stage, adapter)" aria-label="filter runs"
            .value=${this.query} @input=${(e: Event) => (this.query = (e.target as HTMLInputElement).value)} />
            ${this.query ? html`<span class="muted small" data-testid="runs-shown">${shown.length} of ${this.runs.length}</span>` : nothing}</div>`
        : nothing}
      <table class="runs-table" data-testid="runs-table">
        <thead>
          <tr>
            <th class="col-plot" title="overlay the run's curves">plot</th>
            ${COLUMNS.slice(0, 3).map(header)}
            <th>adapter</th>
            ${COLUMNS.slice(3).map(header)}
          </tr>
        </thead>
        <tbody>
          ${shown.map((r) => {
            const total = totalSteps(r);
            const runtime = runtimeSeconds(r, now), eta = etaSeconds(r, now);
            const color = this.colors.get(r.name);
            return html`
              <tr data-testid="run-row" data-run=${r.name} data-status=${r.status} tabindex="0" aria-selected=${this.active === r.name}
                class=${`${this.active === r.name ? "active" : ""} ${r.status === "failed" ? "failed" : ""}`}
                @click=${() => this.emit("activate-run", r.name)}
                @keydown=${(e: KeyboardEvent) => this.onRowKey(e, r.name)}>
                <td class="col-plot" @click=${(e: Event) => e.stopPropagation()}>
                  <label class="swatch-box" style=${color ? `--swatch:${color}` : ""}>
                    <input type="checkbox" data-testid="run-plot-toggle" .checked=${this.selected.has(r.name)}
                      @change=${() => this.emit("toggle-run", r.name)} aria-label="plot ${r.name}" />
                    <span class="swatch"></span>
                  </label>
                </td>
                <td class="run-name" data-testid="run-name" title=${r.name}>${r.name}</td>
                <td data-testid="run-status">${statusBadge(r.status)}</td>
                <td data-testid="run-stage">${r.stage ?? "—"}</td>
                <td class="adapter" data-testid="run-adapter" title=${r.adapter ?? ""}>${shortAdapter(r.adapter)}</td>
                <td class="num" data-testid="run-step" data-step=${r.step ?? ""}>${fmtInt(r.step)}${total ? html`<span class="muted"> / ${fmtInt(total)}</span>` : nothing}</td>
                <td class="num" data-testid="run-loss">${fmtNum(r.last_loss)}</td>
                <td class="num" data-testid="run-bpb">${fmtNum(r.last_val_bpb)}</td>
                <td class="num" data-testid="run-rate">${fmtRate(r.tok_per_sec)}</td>
                <td class="num" data-testid="run-runtime" data-seconds=${runtime ?? ""}>${runtime === null ? "—" : fmtDuration(runtime)}</td>
                <td class="num" data-testid="run-eta" data-seconds=${eta ?? ""}>${eta === null ? "—" : fmtDuration(eta)}</td>
                <td class="num muted" title=${r.updated_at ?? ""}>${fmtAgo(r.updated_at, now)}</td>
              </tr>`;
          })}
        </tbody>
      </table>
      ${this.runs.length === 0 && !this.loading
        ? html`<div class="empty" data-testid="runs-empty">
            ${this.error
              ? html`<strong>Cannot list runs:</strong> ${this.error}`
              : html`No runs yet. Start one with <code>deno task train base --config tiny</code>; it appears here as soon as it writes <code>runs/&lt;name&gt;/run.json</code>.`}
          </div>`
        : nothing}
      ${this.error && this.runs.length > 0 ? html`<div class="error-line">${this.error}</div>` : nothing}`;
  }
}

/** "llvmpipe (LLVM 15.0.6, 256 bits) (deno 2.9.6 wgpu, software; …)" → "llvmpipe (LLVM 15.0.6, 256 bits) · software". */
export function shortAdapter(adapter: string | null): string {
  if (!adapter) return "—";
  const kind = /\b(software|hardware)\b/.exec(adapter)?.[1];
  const name = adapter.replace(/\s*\((?:deno|browser)[^()]*(?:\([^()]*\)[^()]*)*\)\s*$/, "").trim();
  return kind ? `${name} · ${kind}` : name;
}

customElements.define("runs-list", RunsList);

declare global {
  interface HTMLElementTagNameMap {
    "runs-list": RunsList;
  }
}
