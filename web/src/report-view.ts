// <report-view>: the Report tab — a pipeline's report card as `deno task report` wrote it
// (runs/<run>/report/report.json), the page's rendering of the same Report object the
// Markdown comes from: environment, tokenizer against GPT-2 / GPT-4, each stage's figures
// with its curve (the report's own SVG) beside them, and the BASE / MID / SFT / RL table.
import { html, LitElement, nothing } from "lit";
import { fetchRuns, getJson, runUrl } from "./api.ts";
import type { Report } from "../../src/report/report.ts";
import { tokenizerTable } from "../../src/report/report.ts";

export class ReportView extends LitElement {
  static override properties = { runs: { state: true }, selected: { state: true }, report: { state: true }, error: { state: true } };
  declare runs: string[] | null;
  declare selected: string | null;
  declare report: Report | null;
  declare error: string | null;

  constructor() {
    super();
    this.runs = null;
    this.selected = null;
    this.report = null;
    this.error = null;
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      this.runs = (await fetchRuns()).filter((r) => r.report).map((r) => r.name);
      if (!this.selected && this.runs.length) await this.open(this.runs[0]);
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  async open(run: string): Promise<void> {
    this.selected = run;
    this.report = null;
    this.error = null;
    try {
      this.report = await getJson<Report>(runUrl(run, "/report"));
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  private kv(rows: [string, string][], testid: string) {
    return html`<table class="kv" data-testid=${testid}>${rows.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>`;
  }

  private renderReport(r: Report, run: string) {
    return html`
      <section class="panel" data-testid="report" data-run=${run}>
        <div class="panel-head"><h2>Report: ${r.name}</h2><span class="muted small">generated ${r.generated_at}</span></div>
        <h3>Summary</h3>
        <table class="kv report-table" data-testid="report-table">
          <tr><th>metric</th>${r.table.columns.map((c) => html`<th class="num">${c}</th>`)}</tr>
          ${r.table.rows.map((row) => html`<tr><td>${row.metric}</td>${row.values.map((v) => html`<td class="num">${v}</td>`)}</tr>`)}
        </table>
        ${r.notes.map((n) => html`<div class="muted small">${n}</div>`)}
        <div class="muted small">total wall time ${r.total_wall_seconds === null ? "—" : `${Math.round(r.total_wall_seconds / 60)} min`}</div>
        ${r.stages.map((s) => html`
          <div class="report-stage" data-testid="report-stage-${s.stage}">
            <div>
              <h3>${s.stage.toUpperCase()} <span class="muted small">run ${s.run} · ${s.status}</span></h3>
              ${this.kv(s.figures, `report-figures-${s.stage}`)}
            </div>
            ${s.curve ? html`<img class="report-curve" alt="${s.stage} curve" src=${runUrl(run, `/report/${encodeURIComponent(s.curve)}`)} data-testid="report-curve-${s.stage}">` : nothing}
          </div>`)}
        <h3>Environment</h3>
        ${this.kv(r.environment, "report-environment")}
        ${r.tokenizer ? html`<h3>Tokenizer <span class="muted small">vocab ${r.tokenizer.vocab ?? "?"}</span></h3>
          ${(["gpt2", "gpt4"] as const).map((key) => html`
            <table class="kv small">
              <tr><th>text</th><th class="num">bytes</th><th class="num">${key === "gpt2" ? "GPT-2" : "GPT-4"} tokens</th><th class="num">ratio</th><th class="num">ours</th><th class="num">ratio</th><th class="num">fewer tokens</th></tr>
              ${tokenizerTable(r.tokenizer!.rows, key).map((cells) => html`<tr>${cells.map((c, i) => html`<td class=${i ? "num" : ""}>${c}</td>`)}</tr>`)}
            </table>`)}` : nothing}
      </section>`;
  }

  protected override render() {
    if (this.runs === null && !this.error) return html`<section class="panel muted">loading reports…</section>`;
    return html`
      <div class="report-view">
        <section class="panel">
          <div class="panel-head"><h2>Reports</h2><button class="small" @click=${() => void this.refresh()}>Refresh</button></div>
          ${this.runs?.length
            ? html`<ul class="report-list" data-testid="report-list">${this.runs.map((name) => html`<li><button class=${name === this.selected ? "on" : ""} @click=${() => void this.open(name)}>${name}</button></li>`)}</ul>`
            : html`<div class="muted" data-testid="report-empty">No reports yet: <code>deno task pipeline</code> writes one at its end, or <code>deno task report --run NAME</code> for a run you trained stage by stage.</div>`}
        </section>
        ${this.error ? html`<section class="panel error" data-testid="report-error">${this.error}</section>` : nothing}
        ${this.report && this.selected ? this.renderReport(this.report, this.selected) : nothing}
      </div>`;
  }
}

customElements.define("report-view", ReportView);

declare global {
  interface HTMLElementTagNameMap {
    "report-view": ReportView;
  }
}
