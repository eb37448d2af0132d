// <runs-view>: the Runs tab. The runs table on top (polled from /api/runs, and kept live
// by the status events of the streams it holds), the four curves of the selected runs
// below it, then the details of the run clicked last: config, checkpoints (each can be
// opened in the chat), and its latest samples.
import { html, LitElement, nothing } from "lit";
import { type CheckpointEntry, fetchCheckpoints, fetchRuns, fetchSamples, type MetricsRecord, type RunSummary } from "./api.ts";
import { fmtAgo, fmtBytes, fmtDuration, fmtInt, fmtNum, fmtRate } from "./format.ts";
import { compareConfigs, runtimeSeconds } from "./runs_table.ts";
import type { ChartRun } from "./loss-chart.ts";
import { loggedMetrics, METRICS, metricSpec, X_AXES, X_LABEL, type XAxis } from "./chart_data.ts";
import "./loss-chart.ts";
import "./runs-list.ts";
import { statusBadge } from "./runs-list.ts";
import { DEFAULT_RUN_CONFIG, modelFromRunConfig, type RunConfig } from "../../src/train/run_config.ts";
import { type RunStream, streamHub } from "./run_stream.ts";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
const SELECTION_KEY = "nanochat-lab.selected-runs";
const CHARTS_KEY = "nanochat-lab.charts";
const POLL_MS = 5000;

/** Config fields worth a glance, in this order (others are under "all fields"). */
const KEY_CONFIG = [
  ["depth", "layers"], ["n_embd", "width"], ["n_head", "heads"], ["n_kv_head", "kv heads"], ["vocab_size", "vocab"], ["max_seq_len", "context (tokens)"],
  ["device_batch_size", "device batch (rows)"], ["total_batch_size", "total batch (tokens)"], ["num_iterations", "iterations"],
  ["matrix_lr", "matrix LR"], ["embedding_lr", "embedding LR"], ["unembedding_lr", "unembedding LR"], ["warmdown_ratio", "warmdown ratio"],
  ["eval_every", "eval every (steps)"], ["checkpoint_every", "checkpoint every (steps)"], ["seed", "seed"],
] as const;

export class RunsView extends LitElement {
  static override properties = {
    runs: { state: true },
    selected: { state: true },
    active: { state: true },
    error: { state: true },
    loading: { state: true },
    checkpoints: { state: true },
    samples: { state: true },
    detailError: { state: true },
    xAxis: { state: true },
    smoothing: { state: true },
    extraCharts: { state: true },
    onlyDifferences: { state: true },
  };

  declare runs: RunSummary[];
  declare selected: Set<string>;
  declare active: string | null;
  declare error: string | null;
  declare loading: boolean;
  declare checkpoints: CheckpointEntry[] | null;
  declare samples: MetricsRecord[];
  declare detailError: string | null;
  /** The charts' shared x-axis and smoothing, and the metrics added as charts ("train:grad_norm", …); remembered. */
  declare xAxis: XAxis;
  declare smoothing: number;
  declare extraCharts: string[];
  declare onlyDifferences: boolean;

  private colors = new Map<string, string>();
  /** Every run name a poll has listed: a name not among them is a run started since, and gets plotted. */
  private known = new Set<string>();
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private held = new Map<string, RunStream>();
  private onStreamChange = (ev: Event) => {
    const detail = (ev as CustomEvent<{ status: boolean }>).detail;
    const stream = ev.target as RunStream;
    if (detail.status && stream.summary) this.mergeSummary(stream.summary);
    if (stream.run === this.active && detail.status) void this.loadDetails(stream.run, false);
  };

  constructor() {
    super();
    this.runs = [];
    this.selected = new Set(loadSelection() ?? []);
    this.active = null;
    this.error = null;
    this.loading = true;
    this.checkpoints = null;
    this.samples = [];
    this.detailError = null;
    const charts = loadJson(CHARTS_KEY) as { xAxis?: unknown; smoothing?: unknown; extra?: unknown } | null;
    this.xAxis = X_AXES.includes(charts?.xAxis as XAxis) ? charts!.xAxis as XAxis : "step";
    this.smoothing = typeof charts?.smoothing === "number" && charts.smoothing >= 0 && charts.smoothing < 1 ? charts.smoothing : 0;
    this.onlyDifferences = true;
    this.extraCharts = Array.isArray(charts?.extra) ? (charts!.extra as unknown[]).filter((x): x is string => typeof x === "string") : [];
  }

  private saveCharts(): void {
    saveJson(CHARTS_KEY, { xAxis: this.xAxis, smoothing: this.smoothing, extra: this.extraCharts });
  }

  /** Metrics the selected runs log that no chart shows yet. */
  private addableMetrics(): string[] {
    const records = [...this.held.values()].flatMap((s) => s.records);
    return loggedMetrics(records).filter((m) => !this.extraCharts.includes(m));
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.poll(true);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const [name, s] of this.held) {
      s.removeEventListener("change", this.onStreamChange);
      streamHub.release(name);
    }
    this.held.clear();
  }

  /** Lists the runs now and every few seconds after. */
  async poll(first = false): Promise<void> {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    try {
      const runs = await fetchRuns();
      runs.sort((a, b) => (b.started_at ?? "").localeCompare(a.started_at ?? "") || a.name.localeCompare(b.name));
      this.runs = runs;
      this.error = null;
      const names = new Set(runs.map((r) => r.name));
      let selected = new Set([...this.selected].filter((n) => names.has(n)));
      if (first && selected.size === 0) selected = new Set(runs.slice(0, 3).map((r) => r.name));
      if (!first) for (const r of runs) if (!this.known.has(r.name) && r.status === "running") selected.add(r.name);
      for (const n of names) this.known.add(n);
      this.setSelection(selected);
      if (first && !this.active && runs.length) this.activate(runs[0].name);
    } catch (err) {
      this.error = (err as Error).message;
    } finally {
      this.loading = false;
      this.pollTimer = setTimeout(() => void this.poll(), POLL_MS);
    }
  }

  private mergeSummary(s: RunSummary): void {
    const i = this.runs.findIndex((r) => r.name === s.name);
    if (i < 0) return;
    const next = [...this.runs];
    next[i] = { ...next[i], ...s };
    this.runs = next;
  }

  private setSelection(selected: Set<string>): void {
    for (const name of selected) {
      if (!this.colors.has(name)) {
        const used = new Set(this.colors.values());
        this.colors.set(name, PALETTE.find((c) => !used.has(c)) ?? PALETTE[this.colors.size % PALETTE.length]);
      }
    }
    for (const name of [...this.colors.keys()]) if (!selected.has(name)) this.colors.delete(name);
    // Hold a stream per selected run for its status events.
    for (const [name, s] of this.held) {
      if (!selected.has(name)) {
        s.removeEventListener("change", this.onStreamChange);
        streamHub.release(name);
        this.held.delete(name);
      }
    }
    for (const name of selected) {
      if (this.held.has(name)) continue;
      const s = streamHub.acquire(name);
      s.addEventListener("change", this.onStreamChange);
      this.held.set(name, s);
    }
    const same = selected.size === this.selected.size && [...selected].every((n) => this.selected.has(n));
    if (!same) {
      this.selected = selected;
      saveSelection([...selected]);
    }
  }

  private toggle(name: string): void {
    const next = new Set(this.selected);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    this.setSelection(next);
    this.requestUpdate();
  }

  private activate(name: string): void {
    if (this.active === name) return;
    this.active = name;
    this.checkpoints = null;
    this.samples = [];
    void this.loadDetails(name, true);
  }

  private async loadDetails(name: string, showErrors: boolean): Promise<void> {
    try {
      const [checkpoints, samples] = await Promise.all([
        fetchCheckpoints(name),
        fetchSamples(name).catch(() => [] as MetricsRecord[]),
      ]);
      if (this.active !== name) return;
      this.checkpoints = checkpoints.sort((a, b) => b.step - a.step);
      this.samples = samples;
      this.detailError = null;
    } catch (err) {
      if (showErrors && this.active === name) this.detailError = (err as Error).message;
    }
  }

  private openChat(run: string, step: number): void {
    this.dispatchEvent(new CustomEvent("open-chat", { detail: { run, step }, bubbles: true, composed: true }));
  }

  private chartRuns(): ChartRun[] {
    return this.runs.filter((r) => this.selected.has(r.name)).map((r) => ({
      name: r.name, color: this.colors.get(r.name) ?? PALETTE[0],
      batchTokens: typeof r.config?.total_batch_size === "number" ? r.config.total_batch_size : null,
    }));
  }

  protected override render() {
    const chartRuns = this.chartRuns();
    const live = this.runs.filter((r) => r.status === "running").length;
    return html`
      <section class="panel">
        <div class="panel-head">
          <h2>Runs</h2>
          <span class="muted" data-testid="runs-count">${this.runs.length} run${this.runs.length === 1 ? "" : "s"}${live ? ` · ${live} running` : ""}</span>
          <span class="spacer"></span>
          <button class="btn ghost" data-testid="runs-refresh" @click=${() => void this.poll()}>Refresh</button>
        </div>
        <runs-list .runs=${this.runs} .selected=${this.selected} .colors=${this.colors} .active=${this.active}
          .loading=${this.loading} .error=${this.error}
          @toggle-run=${(e: CustomEvent<string>) => this.toggle(e.detail)}
          @activate-run=${(e: CustomEvent<string>) => this.activate(e.detail)}></runs-list>
      </section>
      ${this.renderChartTools()}
      <section class="chart-grid" data-testid="charts" @remove-chart=${(e: CustomEvent<string>) => {
        this.extraCharts = this.extraCharts.filter((m) => m !== e.detail);
        this.saveCharts();
      }}>
        ${[...Object.keys(METRICS), ...this.extraCharts].map((m) => html`
          <loss-chart metric=${m} .runs=${chartRuns} x-axis=${this.xAxis} .smoothing=${this.smoothing} ?removable=${!(m in METRICS)}></loss-chart>`)}
      </section>
      ${this.renderCompare()}
      ${this.renderDetails()}`;
  }

  private renderChartTools() {
    const addable = this.addableMetrics();
    return html`
      <div class="chart-tools-bar" data-testid="chart-tools">
        <label>x <select data-testid="chart-x" @change=${(e: Event) => {
          this.xAxis = (e.target as HTMLSelectElement).value as XAxis;
          this.saveCharts();
        }}>${X_AXES.map((x) => html`<option value=${x} ?selected=${x === this.xAxis}>${X_LABEL[x]}</option>`)}</select></label>
        <label title="exponential moving average, debiased as TensorBoard's">smoothing
          <input type="range" min="0" max="0.99" step="0.01" data-testid="chart-smoothing" .value=${String(this.smoothing)}
            @input=${(e: Event) => {
              this.smoothing = Number((e.target as HTMLInputElement).value);
              this.saveCharts();
            }} />
          <span class="value" data-testid="chart-smoothing-value">${this.smoothing.toFixed(2)}</span></label>
        <label>add chart <select data-testid="chart-add" ?disabled=${addable.length === 0} @change=${(e: Event) => {
          const sel = e.target as HTMLSelectElement;
          if (sel.value) this.extraCharts = [...this.extraCharts, sel.value];
          sel.value = "";
          this.saveCharts();
        }}>
          <option value="">${addable.length ? "a logged metric…" : "no other metrics logged"}</option>
          ${addable.map((m) => html`<option value=${m}>${metricSpec(m).title}</option>`)}
        </select></label>
        <span class="muted small">drag across a chart to zoom all of them; double click to reset</span>
      </div>`;
  }

  /** The ticked runs side by side: final figures, then their configs with the differences marked. */
  private renderCompare() {
    const runs = this.runs.filter((r) => this.selected.has(r.name));
    if (runs.length < 2) return nothing;
    const now = Date.now();
    const rows = compareConfigs(runs);
    const shown = this.onlyDifferences ? rows.filter((r) => r.differs) : rows;
    const figures: [string, (r: RunSummary) => string][] = [
      ["status", (r) => r.status], ["step", (r) => fmtInt(r.step)], ["last loss (nats)", (r) => fmtNum(r.last_loss)],
      ["last val bpb", (r) => fmtNum(r.last_val_bpb)], ["throughput", (r) => fmtRate(r.tok_per_sec)],
      ["runtime", (r) => { const t = runtimeSeconds(r, now); return t === null ? "—" : fmtDuration(t); }],
    ];
    return html`
      <section class="panel compare" data-testid="compare">
        <div class="panel-head">
          <h2>Compare</h2>
          <span class="muted">${runs.length} ticked runs · ${rows.filter((r) => r.differs).length} of ${rows.length} config fields differ</span>
          <span class="spacer"></span>
          <label class="toggle"><input type="checkbox" data-testid="compare-only-diff" .checked=${this.onlyDifferences}
            @change=${(e: Event) => (this.onlyDifferences = (e.target as HTMLInputElement).checked)} /> only differences</label>
        </div>
        <div class="compare-scroll">
          <table class="kv compare-table">
            <thead><tr><th></th>${runs.map((r) => html`<th data-testid="compare-run">${r.name}</th>`)}</tr></thead>
            <tbody>
              ${figures.map(([label, f]) => html`<tr class="figure"><th>${label}</th>${runs.map((r) => html`<td>${f(r)}</td>`)}</tr>`)}
              ${shown.map((row) => html`<tr data-testid="compare-row" data-field=${row.field} class=${row.differs ? "differs" : ""}>
                <th>${row.field}</th>${row.values.map((v) => html`<td>${v === undefined ? "—" : fmtConfig(v)}</td>`)}</tr>`)}
            </tbody>
          </table>
        </div>
      </section>`;
  }

  private renderDetails() {
    const run = this.runs.find((r) => r.name === this.active);
    if (!run) return nothing;
    const cfg = run.config ?? {};
    const ckpts = this.checkpoints;
    const lastSample = this.samples.at(-1);
    const sampleTexts = Array.isArray(lastSample?.samples) ? (lastSample!.samples as unknown[]).map(String) : [];
    return html`
      <section class="panel run-details" data-testid="run-details" data-run=${run.name}>
        <div class="panel-head">
          <h2>${run.name}</h2>
          ${statusBadge(run.status)}
          <span class="muted">${run.stage} · started ${fmtAgo(run.started_at)} · updated ${fmtAgo(run.updated_at)}</span>
        </div>
        ${run.error ? html`<div class="error-box" data-testid="run-error"><strong>${run.status === "failed" ? "Failed:" : "Problem:"}</strong> ${run.error}</div>` : nothing}
        <div class="details-grid">
          <div>
            <h3>Config</h3>
            <table class="kv">
              ${KEY_CONFIG.filter(([k]) => cfg[k] !== undefined).map(([k, label]) => {
                const derived = derivedWidth(cfg, k);
                return html`<tr data-testid="config-row" data-field=${k}><th>${label}</th><td>${derived === null ? fmtConfig(cfg[k]) : html`${fmtInt(derived)} <span class="muted">(from depth)</span>`}</td></tr>`;
              })}
            </table>
            <details class="all-config"><summary>all fields</summary><pre>${JSON.stringify(cfg, null, 2)}</pre></details>
            <div class="muted small" title=${run.adapter}>adapter: ${run.adapter || "—"}</div>
          </div>
          <div>
            <h3>Checkpoints</h3>
            ${this.detailError ? html`<div class="error-line">${this.detailError}</div>` : nothing}
            ${ckpts === null
              ? html`<div class="muted">loading…</div>`
              : ckpts.length === 0
              ? html`<div class="muted">none yet (one is written every <code>checkpoint_every</code> steps and at the end)</div>`
              : html`<table class="kv ckpts" data-testid="checkpoints-table">
                  <tr><th>step</th><th class="num">model</th><th class="num">val bpb</th><th></th></tr>
                  ${ckpts.map((c) => {
                    const model = c.files.find((f) => f.name === "model.safetensors");
                    const bpb = (c.meta as { val_bpb?: number } | null)?.val_bpb;
                    return html`<tr data-testid="checkpoint-row" data-step=${c.step}>
                      <td>${fmtInt(c.step)}</td>
                      <td class="num">${model ? fmtBytes(model.size) : "—"}</td>
                      <td class="num">${fmtNum(bpb)}</td>
                      <td><button class="btn small" @click=${() => this.openChat(run.name, c.step)}>Chat</button></td>
                    </tr>`;
                  })}
                </table>`}
          </div>
          <div>
            <h3>Samples${lastSample ? html` <span class="muted">at step ${fmtInt(lastSample.step)}</span>` : nothing}</h3>
            ${sampleTexts.length
              ? html`<ol class="samples" data-testid="samples">${sampleTexts.map((s) => html`<li><pre>${s}</pre></li>`)}</ol>`
              : html`<div class="muted">none (the run samples every <code>sample_every</code> steps; -1 turns it off)</div>`}
          </div>
        </div>
      </section>`;
  }
}

/**
 * A width or head count the config leaves at 0 is derived from the depth (the reference's
 * rule, modelFromRunConfig): the value the model got, or null when the field was given.
 */
function derivedWidth(cfg: Record<string, unknown>, field: string): number | null {
  if (!["n_embd", "n_head", "n_kv_head"].includes(field) || cfg[field] !== 0) return null;
  try {
    const model = modelFromRunConfig({ ...DEFAULT_RUN_CONFIG, ...cfg } as RunConfig);
    return field === "n_embd" ? model.n_embd : field === "n_head" ? model.n_head : model.n_kv_head;
  } catch {
    return null;
  }
}

function fmtConfig(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-US") : String(v);
  return typeof v === "string" ? v : JSON.stringify(v);
}

function loadJson(key: string): unknown {
  try {
    const raw = localStorage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function saveJson(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch { /* private mode: keep it in memory */ }
}

function loadSelection(): string[] | null {
  const v = loadJson(SELECTION_KEY);
  return Array.isArray(v) && v.every((x) => typeof x === "string") && v.length ? v : null;
}

function saveSelection(names: string[]): void {
  saveJson(SELECTION_KEY, names);
}

customElements.define("runs-view", RunsView);

declare global {
  interface HTMLElementTagNameMap {
    "runs-view": RunsView;
  }
}
