// <loss-chart metric="loss">: one metric of several runs against the step, the tokens
// trained on or the seconds since the start (x-axis), overlaid with a legend, drawn with
// uPlot, optionally smoothed (debiased EMA). It subscribes to each run's RunStream and
// redraws on every batch of new records (no reload). Charts share the cursor and the x
// zoom (drag across one: all follow; a double click resets). CSV and PNG save what it
// shows. The element carries data-points (points plotted, all runs together), data-runs
// and data-x, which the browser tests read.
import { html, LitElement, nothing, type PropertyValues } from "lit";
import uPlot from "uplot";
import { chartCsv, type MetricSpec, metricSeries, metricSpec, smooth, X_LABEL, type XAxis } from "./chart_data.ts";
import { fmtNum, fmtRate } from "./format.ts";
import type { MetricsRecord } from "./api.ts";
import { streamHub } from "./run_stream.ts";

/** Records that grow, announced by a "change" event: a server run's RunStream, or a run training in this tab. */
export interface RecordSource extends EventTarget {
  readonly records: readonly MetricsRecord[];
}

/**
 * A run on a chart: its curve colour, its tokens per step (for tokens on x), and where its
 * records come from (default: the server's live stream of the run of that name).
 */
export interface ChartRun { name: string; color: string; batchTokens?: number | null; source?: RecordSource }

const runsKey = (runs: ChartRun[] | undefined) =>
  (runs ?? []).map((r) => `${r.name}\u0000${r.color}\u0000${r.batchTokens ?? ""}\u0000${r.source ? "local" : ""}`).join("\u0001");

/** Saves `blob` as a file named `name` (the browser's download), then lets the blob go. */
export function download(name: string, blob: Blob): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 0);
}

const DASHES: number[][] = [[], [7, 4], [2, 3], [10, 3, 2, 3], [4, 4]];
/** The i-th run's dash pattern (solid for the first). */
function dashOf(i: number): number[] {
  return DASHES[i % DASHES.length];
}

/** "5.3 nats · step 10": a series' latest value and its x, for the legend away from the cursor. */
function latest(u: uPlot, sidx: number, fmt: (v: number | null) => string, xName: string): string {
  const xs = u.data[0], ys = u.data[sidx];
  if (!xs || !ys) return "—";
  for (let i = ys.length - 1; i >= 0; i--) {
    const v = ys[i];
    if (typeof v === "number" && Number.isFinite(v)) return `${fmt(v)} · ${xName} ${fmtNum(xs[i], 6)}`;
  }
  return "—";
}

export class LossChart extends LitElement {
  static override properties = {
    metric: { type: String },
    // A new array with the same runs and colours is no change (the parent re-renders often).
    runs: { attribute: false, hasChanged: (a: ChartRun[] | undefined, b: ChartRun[] | undefined) => runsKey(a) !== runsKey(b) },
    logScale: { type: Boolean, attribute: "log-scale" },
    ema: { type: Boolean },
    height: { type: Number },
    xAxis: { type: String, attribute: "x-axis" },
    smoothing: { type: Number },
    removable: { type: Boolean },
  };

  declare metric: string;
  declare runs: ChartRun[];
  declare logScale: boolean;
  declare ema: boolean;
  declare height: number;
  declare xAxis: XAxis;
  /** EMA weight on the past, 0 = off. */
  declare smoothing: number;
  /** Shows a × that asks the view to drop this chart (added metrics). */
  declare removable: boolean;

  private plot: uPlot | null = null;
  /** Each plotted run's records; `hub` marks those acquired from streamHub (released when dropped). */
  private streams = new Map<string, { source: RecordSource; hub: boolean }>();
  private redrawTimer: ReturnType<typeof setTimeout> | null = null;
  private resize: ResizeObserver | null = null;
  private onChange = () => this.scheduleRedraw();
  // The system switching between light and dark: the axes are drawn again in the new colours.
  private scheme = globalThis.matchMedia?.("(prefers-color-scheme: dark)") ?? null;
  private onScheme = () => this.build();

  constructor() {
    super();
    this.metric = "loss";
    this.runs = [];
    this.xAxis = "step";
    this.smoothing = 0;
    this.removable = false;
    this.logScale = false;
    this.ema = false;
    this.height = 210;
  }

  // Light DOM, so uPlot's stylesheet (linked by the page) applies.
  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  get spec(): MetricSpec {
    return metricSpec(this.metric);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.setAttribute("data-testid", `chart-${this.metric}`);
    this.setAttribute("data-points", "0");
    this.scheme?.addEventListener("change", this.onScheme);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.scheme?.removeEventListener("change", this.onScheme);
    for (const name of [...this.streams.keys()]) this.dropStream(name);
    this.resize?.disconnect();
    this.resize = null;
    this.plot?.destroy();
    this.plot = null;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("metric")) {
      this.setAttribute("data-testid", `chart-${this.metric}`);
      if (!changed.has("logScale") && this.logScale === false) this.logScale = this.spec.logDefault;
    }
    if (changed.has("runs")) this.syncStreams();
  }

  private dropStream(name: string): void {
    const s = this.streams.get(name);
    if (!s) return;
    s.source.removeEventListener("change", this.onChange);
    if (s.hub) streamHub.release(name);
    this.streams.delete(name);
  }

  private syncStreams(): void {
    const want = new Map(this.runs.map((r) => [r.name, r.source ?? null]));
    for (const [name, s] of this.streams) if (!want.has(name) || (want.get(name) ?? null) !== (s.hub ? null : s.source)) this.dropStream(name);
    for (const [name, local] of want) {
      if (this.streams.has(name)) continue;
      const source = local ?? streamHub.acquire(name);
      source.addEventListener("change", this.onChange);
      this.streams.set(name, { source, hub: !local });
    }
  }

  protected override render() {
    const spec = this.spec;
    return html`
      <div class="chart-card">
        <div class="chart-head">
          <div class="chart-title">${spec.title} <span class="unit">(${spec.unit})</span></div>
          <div class="chart-tools">
            ${spec.emaField
              ? html`<label class="toggle" title="exponential moving average of the loss">
                  <input type="checkbox" data-testid="chart-${spec.key}-ema" .checked=${this.ema}
                    @change=${(e: Event) => (this.ema = (e.target as HTMLInputElement).checked)} /> smoothed</label>`
              : nothing}
            <label class="toggle" title="logarithmic y axis">
              <input type="checkbox" data-testid="chart-${spec.key}-log" .checked=${this.logScale}
                @change=${(e: Event) => (this.logScale = (e.target as HTMLInputElement).checked)} /> log y</label>
            <button class="link" data-testid="chart-${spec.key}-csv" title="the plotted points as CSV" @click=${() => this.saveCsv()}>CSV</button>
            <button class="link" data-testid="chart-${spec.key}-png" title="the chart as a PNG image" @click=${() => this.savePng()}>PNG</button>
            ${this.removable
              ? html`<button class="link" data-testid="chart-${spec.key}-remove" title="remove this chart"
                  @click=${() => this.dispatchEvent(new CustomEvent("remove-chart", { detail: this.metric, bubbles: true, composed: true }))}>×</button>`
              : nothing}
          </div>
        </div>
        <div class="chart-plot" data-testid="chart-${spec.key}-plot"></div>
        ${this.runs.length === 0 ? html`<div class="chart-empty">Select runs in the table to plot them.</div>` : nothing}
      </div>`;
  }

  protected override updated(changed: PropertyValues<this>): void {
    const rebuild = !this.plot || changed.has("runs") || changed.has("logScale") || changed.has("metric") || changed.has("ema") || changed.has("height") ||
      changed.has("xAxis") || changed.has("smoothing");
    if (rebuild) this.build();
    else this.redraw();
  }

  private scheduleRedraw(): void {
    if (this.redrawTimer) return;
    this.redrawTimer = setTimeout(() => {
      this.redrawTimer = null;
      this.redraw();
    }, 50);
  }

  /** The aligned data for uPlot: [steps, run1 values, run2 values, …] and the count of points. */
  private data(): { data: uPlot.AlignedData; points: number } {
    const spec = this.spec;
    const field = this.ema && spec.emaField ? spec.emaField : spec.field;
    const tables: uPlot.AlignedData[] = [];
    let points = 0;
    for (const run of this.runs) {
      const records = this.streams.get(run.name)?.source.records ?? [];
      const { xs, ys: raw } = metricSeries(records, spec.type, field, this.xAxis, run.batchTokens ?? null);
      const ys = smooth(raw, this.smoothing);
      points += xs.length;
      const shown = this.logScale ? ys.map((y) => (y !== null && y > 0 ? y : null)) : ys;
      tables.push([xs, shown]);
    }
    if (tables.length === 0) return { data: [[]], points };
    if (tables.length === 1) return { data: tables[0], points };
    return { data: uPlot.join(tables), points };
  }

  private build(): void {
    const target = this.querySelector<HTMLElement>(".chart-plot");
    if (!target) return;
    this.plot?.destroy();
    this.plot = null;
    const spec = this.spec;
    const { data, points } = this.data();
    const width = Math.max(240, target.clientWidth || this.clientWidth || 560);
    const fmt = (v: number | null) => (v === null || v === undefined ? "—" : spec.format(v));
    // The canvas takes colours, not CSS variables: read the theme's (light or dark) now.
    const css = getComputedStyle(this);
    const themed = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    const theme = { axis: themed("--chart-axis", "#5b6472"), grid: themed("--chart-grid", "#eef0f3"), tick: themed("--chart-tick", "#d5d9df") };
    this.setAttribute("data-axis-color", theme.axis);
    const opts: uPlot.Options = {
      width,
      height: this.height,
      legend: { show: true, live: true },
      // One sync key for every chart: uPlot mirrors the cursor, a drag-zoom and its double-click reset on all of them.
      cursor: { drag: { x: true, y: false }, points: { size: 6 }, sync: { key: "lab-charts" } },
      hooks: {
        setScale: [(u: uPlot, key: string) => {
          const { min, max } = u.scales.x;
          if (key === "x" && min != null && max != null) this.setAttribute("data-x-range", `${fmtNum(min, 6)}..${fmtNum(max, 6)}`);
        }],
      },
      scales: {
        x: { time: false },
        y: this.logScale ? { distr: 3, log: 10 } : { auto: true },
      },
      axes: [
        { label: X_LABEL[this.xAxis], labelSize: 16, size: 34, stroke: theme.axis, grid: { stroke: theme.grid }, ticks: { stroke: theme.tick } },
        {
          label: spec.unit, labelSize: 16, size: 56, stroke: theme.axis, grid: { stroke: theme.grid }, ticks: { stroke: theme.tick },
          // A log axis passes null for the ticks it leaves unlabelled (between the decades).
          values: (_u, splits) => {
            const labels = splits.map((v) => (v == null ? "" : spec.key === "tok_per_sec" ? fmtRate(v, "").trim() : fmtNum(v, 3)));
            // The labels are drawn on the canvas; the attribute lets a test read them.
            this.setAttribute("data-y-ticks", labels.join("|"));
            return labels;
          },
        },
      ],
      series: [
        // Away from the cursor the legend shows each run's latest value.
        { label: X_LABEL[this.xAxis], value: (_u, v, _s, idx) => (idx === null ? "latest" : v === null || v === undefined ? "—" : fmtNum(v, 6)) },
        ...this.runs.map((run, i) => ({
          label: run.name,
          stroke: run.color,
          // Runs with the same numbers draw the same line: each run after the first gets its
          // own dash, so the one on top lets the others show through.
          dash: dashOf(i),
          width: 1.75,
          spanGaps: true,
          points: { show: true, size: 4, fill: run.color },
          value: (u: uPlot, v: number | null, sidx: number, idx: number | null) => (idx === null ? latest(u, sidx, fmt, X_LABEL[this.xAxis]) : fmt(v)),
        })),
      ],
    };
    this.plot = new uPlot(opts, data, target);
    this.setAttribute("data-points", String(points));
    this.setAttribute("data-runs", this.runs.map((r) => r.name).join(","));
    this.setAttribute("data-dashes", this.runs.map((_, i) => dashOf(i).join(" ") || "solid").join(","));
    this.setAttribute("data-log", String(this.logScale));
    this.setAttribute("data-x", this.xAxis);
    if (!this.resize) {
      this.resize = new ResizeObserver(() => {
        const el = this.querySelector<HTMLElement>(".chart-plot");
        if (this.plot && el && el.clientWidth > 0 && Math.abs(el.clientWidth - this.plot.width) > 2) {
          this.plot.setSize({ width: el.clientWidth, height: this.height });
        }
      });
      this.resize.observe(this);
    }
  }

  /** A file name for this chart's metric ("train:grad_norm" → "train_grad_norm.csv"). */
  private fileName(ext: string): string {
    return `${this.metric.replace(/[^\w.-]+/g, "_")}.${ext}`;
  }

  private saveCsv(): void {
    const { data } = this.data();
    const csv = chartCsv(X_LABEL[this.xAxis], this.runs.map((r) => r.name), data as (number | null)[][]);
    download(this.fileName("csv"), new Blob([csv], { type: "text/csv" }));
  }

  private savePng(): void {
    const canvas = this.querySelector<HTMLCanvasElement>(".chart-plot canvas");
    canvas?.toBlob((png) => png && download(this.fileName("png"), png), "image/png");
  }

  private redraw(): void {
    if (!this.plot) return this.build();
    const { data, points } = this.data();
    // Keep a zoom the user made (drag across the chart; a double click resets it).
    const u = this.plot, xs = u.data[0] ?? [], x = u.scales.x;
    const zoomed = xs.length > 1 && x.min != null && x.max != null && (x.min > xs[0] || x.max < xs[xs.length - 1]);
    u.setData(data, !zoomed);
    this.setAttribute("data-points", String(points));
  }
}

customElements.define("loss-chart", LossChart);

declare global {
  interface HTMLElementTagNameMap {
    "loss-chart": LossChart;
  }
}
