// <runs-list>: the table of runs. Each row: a plot checkbox in the run's curve colour,
// name, status badge, stage, adapter, step, last loss, validation bpb, throughput and
// when it last changed. Clicking a row opens its details; the checkbox overlays its
// curves. Emits "toggle-run" and "activate-run" (detail: the run name).
import { html, LitElement, nothing } from "lit";
import type { RunSummary } from "./api.ts";
import { fmtAgo, fmtInt, fmtNum, fmtRate } from "./format.ts";

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
  };

  declare runs: RunSummary[];
  declare selected: Set<string>;
  declare colors: Map<string, string>;
  declare active: string | null;
  declare loading: boolean;
  declare error: string | null;

  private tick: ReturnType<typeof setInterval> | null = null;

  constructor() {
    super();
    this.runs = [];
    this.selected = new Set();
    this.colors = new Map();
    this.active = null;
    this.loading = false;
    this.error = null;
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
    return html`
      <table class="runs-table" data-testid="runs-table">
        <thead>
          <tr>
            <th class="col-plot" title="overlay the run's curves">plot</th>
            <th>run</th>
            <th>status</th>
            <th>stage</th>
            <th>adapter</th>
            <th class="num">step</th>
            <th class="num">loss <span class="unit">nats</span></th>
            <th class="num">val <span class="unit">bpb</span></th>
            <th class="num">throughput</th>
            <th class="num">updated</th>
          </tr>
        </thead>
        <tbody>
          ${this.runs.map((r) => {
            const total = typeof r.config?.num_iterations === "number" && (r.config.num_iterations as number) > 0
              ? (r.config.num_iterations as number) : null;
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
