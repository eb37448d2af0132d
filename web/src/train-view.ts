// <train-view>: the Train tab. Pick a preset (tiny by default), optionally change settings,
// and the page trains it in a worker (train_worker.ts) on this browser's GPU with the same
// loop, kernels and optimizer as `deno task train base`, on the lab server's shards. The
// curves are the Runs tab's charts over the records the worker posts; Stop checkpoints at the
// end of the step; runs and their checkpoints stay in IndexedDB (train_store.ts), resumable
// after a reload, and download as a run folder for `deno task chat` / `train base --resume`.
import { html, LitElement, nothing } from "lit";
import type { DataInfo } from "../../src/formats/lab_api.ts";
import type { MetricsRecord } from "../../src/formats/metrics.ts";
import { resolveRunConfig } from "../../src/train/run_config.ts";
import { errorOf } from "./api.ts";
import { fmtNum, fmtRate } from "./format.ts";
import { type ChartRun, download, type RecordSource } from "./loss-chart.ts";
import { type FromWorker, parseOverrides, resumeCommand, TAB_PRESETS, type ToWorker, TRAIN_LOCK_PREFIX } from "./train_protocol.ts";
import { IdbFileStore, type LocalRun, localRunNames, readLocalRun, runDirOf, zipLocalRun } from "./train_store.ts";

/** A run's records as the charts read them, growing as the worker logs. */
class LocalRecords extends EventTarget implements RecordSource {
  records: MetricsRecord[] = [];
  replace(records: MetricsRecord[]): void {
    this.records = [...records];
    this.dispatchEvent(new Event("change"));
  }
  add(record: MetricsRecord): void {
    this.records.push(record);
    this.dispatchEvent(new Event("change"));
  }
}

/** Steps trained: the last train record's step + 1, or the checkpoint's step (the final one is N). */
const stepsDone = (records: readonly MetricsRecord[], infoStep: number) => Math.max(infoStep, (lastOf(records, "train", "step") ?? -1) + 1);

const CHARTS = ["loss", "val_bpb", "tok_per_sec"];
const COLOR = "#2563eb";

const lastOf = (records: readonly MetricsRecord[], type: string, field: string): number | null => {
  for (let i = records.length - 1; i >= 0; i--) if (records[i].type === type && typeof records[i][field] === "number") return records[i][field] as number;
  return null;
};

export class TrainView extends LitElement {
  static override properties = {
    preset: { state: true }, runName: { state: true }, steps: { state: true }, settings: { state: true },
    runs: { state: true }, active: { state: true }, training: { state: true }, lines: { state: true },
    error: { state: true }, data: { state: true }, shown: { state: true },
  };
  declare preset: string;
  declare runName: string;
  declare steps: string;
  declare settings: string;
  declare runs: LocalRun[];
  /** The run the worker is training (null: none). */
  declare active: string | null;
  declare training: boolean;
  declare lines: string[];
  declare error: string | null;
  declare data: DataInfo | null;
  /** The run whose curves are shown. */
  declare shown: string | null;

  private store = new IdbFileStore();
  /** Runs whose training lock another tab holds (train_worker.ts takes one per run). */
  private elsewhere = new Set<string>();
  private worker: Worker | null = null;
  private sources = new Map<string, LocalRecords>();

  constructor() {
    super();
    this.preset = "tiny";
    this.runName = "tab-tiny";
    this.steps = "";
    this.settings = "";
    this.runs = [];
    this.active = null;
    this.training = false;
    this.lines = [];
    this.error = null;
    this.data = null;
    this.shown = null;
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.refresh();
    void this.checkData();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.worker?.terminate();
    this.worker = null;
  }

  private async checkData(): Promise<void> {
    try {
      const res = await fetch("/api/data");
      if (!res.ok) throw await errorOf(res);
      this.data = await res.json() as DataInfo;
    } catch (err) {
      this.error = `cannot ask the lab server for training data: ${(err as Error).message}`;
    }
  }

  private async refresh(): Promise<void> {
    try {
      const runs: LocalRun[] = [];
      for (const name of await localRunNames(this.store)) {
        const r = await readLocalRun(this.store, name).catch(() => null);
        if (r) runs.push(r);
      }
      const locks = (navigator as Navigator & { locks?: LockManager }).locks;
      const held = locks ? ((await locks.query()).held ?? []).map((l) => l.name ?? "") : [];
      this.elsewhere = new Set(held.filter((n) => n.startsWith(TRAIN_LOCK_PREFIX)).map((n) => n.slice(TRAIN_LOCK_PREFIX.length)));
      this.runs = runs.sort((a, b) => (a.info.started_at < b.info.started_at ? 1 : -1));
      for (const r of runs) if (r.info.name !== this.active) this.sourceOf(r.info.name).replace(r.records);
      this.shown ??= this.runs[0]?.info.name ?? null;
    } catch (err) {
      this.error = `cannot read this browser's trained runs (IndexedDB): ${(err as Error).message}`;
    }
  }

  private sourceOf(run: string): LocalRecords {
    let s = this.sources.get(run);
    if (!s) this.sources.set(run, (s = new LocalRecords()));
    return s;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL("./train_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (e: MessageEvent<FromWorker>) => this.onWorker(e.data);
    w.onerror = (e) => {
      this.error = `the training worker failed: ${e.message}`;
      this.training = false;
    };
    this.worker = w;
    return w;
  }

  private say(line: string): void {
    this.lines = [...this.lines.slice(-199), line];
  }

  private onWorker(m: FromWorker): void {
    const run = this.active;
    switch (m.type) {
      case "line":
        this.say(m.line);
        break;
      case "records":
        if (run) this.sourceOf(run).replace(m.records);
        break;
      case "record":
        if (run) this.sourceOf(run).add(m.record);
        break;
      case "started":
        void this.refresh();
        break;
      case "checkpoint":
        void this.refresh();
        break;
      case "done":
        this.say(m.stopped ? `stopped at step ${m.step}; Resume continues it` : `finished at step ${m.step}`);
        this.training = false;
        this.active = null;
        void this.refresh();
        break;
      case "error":
        this.error = m.message;
        this.training = false;
        this.active = null;
        void this.refresh();
        break;
    }
  }

  private send(m: ToWorker): void {
    this.ensureWorker().postMessage(m);
  }

  private start(): void {
    this.error = null;
    let overrides;
    try {
      overrides = parseOverrides(this.settings);
      if (this.steps.trim()) overrides = { ...overrides, ...parseOverrides(`num_iterations=${this.steps.trim()}`) };
      resolveRunConfig(TAB_PRESETS[this.preset], { ...overrides, run: this.runName }); // report a bad setting before the worker starts
    } catch (err) {
      this.error = (err as Error).message;
      return;
    }
    const run = this.runName.trim();
    this.begin(run);
    this.send({ type: "start", run, preset: this.preset, overrides });
  }

  private resume(run: string): void {
    this.error = null;
    this.begin(run);
    this.send({ type: "resume", run });
  }

  private begin(run: string): void {
    this.lines = [];
    this.active = run;
    this.shown = run;
    this.training = true;
    this.sourceOf(run).replace([]);
  }

  private stop(): void {
    this.send({ type: "stop" });
  }

  private async download(run: string): Promise<void> {
    try {
      download(`${run}.zip`, await zipLocalRun(this.store, run));
    } catch (err) {
      this.error = `cannot download ${run}: ${(err as Error).message}`;
    }
  }

  private async deleteRun(run: string): Promise<void> {
    if (!globalThis.confirm?.(`Delete the run '${run}' and its checkpoints from this browser?`)) return;
    await this.store.removeTree(runDirOf(run));
    this.sources.delete(run);
    if (this.shown === run) this.shown = null;
    await this.refresh();
  }

  private chat(run: string, step: number): void {
    this.dispatchEvent(new CustomEvent("open-local-chat", { detail: { run, step }, bubbles: true, composed: true }));
  }

  private statusOf(r: LocalRun): string {
    // run.json says running while a worker trains it: this tab's, another tab's (it holds the
    // run's lock), or none — the tab was closed mid-run.
    if (r.info.status !== "running" || r.info.name === this.active) return r.info.status;
    return this.elsewhere.has(r.info.name) ? "running elsewhere" : "interrupted";
  }

  protected override render() {
    const presetCfg = TAB_PRESETS[this.preset];
    const chartRuns: ChartRun[] = this.shown ? [{ name: this.shown, color: COLOR, batchTokens: this.runs.find((r) => r.info.name === this.shown)?.info.config.total_batch_size as number ?? null, source: this.sourceOf(this.shown) }] : [];
    return html`
      <section class="panel" data-testid="train-form">
        <div class="panel-head"><h2>Train in this tab</h2>
          <span class="muted">the same loop, kernels and optimizer as <code>deno task train base</code>, on this browser's GPU, in a worker</span></div>
        ${this.data?.missing ? html`<div class="note" data-testid="train-data-missing">${this.data.missing}</div>` : nothing}
        <div class="train-form">
          <label>preset <select data-testid="train-preset" .value=${this.preset} ?disabled=${this.training}
            @change=${(e: Event) => {
              this.preset = (e.target as HTMLSelectElement).value;
              this.runName = `tab-${this.preset}`;
            }}>${Object.keys(TAB_PRESETS).map((p) => html`<option value=${p} ?selected=${p === this.preset}>${p}</option>`)}</select></label>
          <label>run <input data-testid="train-run" .value=${this.runName} ?disabled=${this.training} @input=${(e: Event) => (this.runName = (e.target as HTMLInputElement).value)} /></label>
          <label>steps <input data-testid="train-steps" inputmode="numeric" size="6" placeholder=${String(presetCfg?.num_iterations ?? "")}
            .value=${this.steps} ?disabled=${this.training} @input=${(e: Event) => (this.steps = (e.target as HTMLInputElement).value)} /></label>
          <label class="grow">settings <input data-testid="train-settings" placeholder="field=value … (e.g. eval_every=10 device_batch_size=4)"
            .value=${this.settings} ?disabled=${this.training} @input=${(e: Event) => (this.settings = (e.target as HTMLInputElement).value)} /></label>
          ${this.training
            ? html`<button class="btn danger" data-testid="train-stop" @click=${() => this.stop()}>Stop</button>`
            : html`<button class="btn primary" data-testid="train-start" ?disabled=${!this.runName.trim() || !!this.data?.missing} @click=${() => this.start()}>Start</button>`}
        </div>
        ${this.error ? html`<div class="error-box text" role="alert" data-testid="train-error">${this.error}</div>` : nothing}
        ${this.lines.length ? html`<pre class="train-log" data-testid="train-log">${this.lines.slice(-8).join("\n")}</pre>` : nothing}
      </section>
      <section class="chart-grid" data-testid="train-charts">
        ${CHARTS.map((m) => html`<loss-chart metric=${m} .runs=${chartRuns}></loss-chart>`)}
      </section>
      ${this.renderRuns()}`;
  }

  private renderRuns() {
    return html`
      <section class="panel" data-testid="train-runs">
        <div class="panel-head"><h2>Runs in this browser</h2><span class="muted">${this.runs.length} run${this.runs.length === 1 ? "" : "s"} · kept in IndexedDB</span></div>
        ${this.runs.length === 0 ? html`<div class="muted">None yet: start one above.</div>` : html`
        <div class="table-scroll"><table class="runs-table">
          <thead><tr><th>run</th><th>status</th><th>step</th><th>loss</th><th>val bpb</th><th>tok/s</th><th>checkpoints</th><th></th></tr></thead>
          <tbody>${this.runs.map((r) => this.renderRun(r))}</tbody>
        </table></div>
        ${this.shown ? this.renderCommands(this.runs.find((r) => r.info.name === this.shown)) : nothing}`}
      </section>`;
  }

  private renderRun(r: LocalRun) {
    const name = r.info.name, status = this.statusOf(r);
    const records = this.sourceOf(name).records;
    const total = (r.info.config.num_iterations as number | undefined) ?? null;
    const last = r.checkpoints.at(-1);
    const resumable = !this.training && last !== undefined && (status === "stopped" || status === "failed" || status === "interrupted");
    return html`<tr data-testid="train-run-${name}" data-status=${status} class=${this.shown === name ? "active" : ""} @click=${() => (this.shown = name)}>
      <td class="run-name">${name}</td><td><span class="badge badge-${status === "running elsewhere" ? "running" : status}">${status}</span></td>
      <td class="num">${stepsDone(records, r.info.step ?? 0)}${total && total > 0 ? ` / ${total}` : ""}</td>
      <td class="num">${fmtNum(lastOf(records, "train", "loss"))}</td><td class="num">${fmtNum(lastOf(records, "eval", "val_bpb"))}</td>
      <td class="num">${fmtRate(lastOf(records, "train", "tok_per_sec"))}</td>
      <td data-testid="train-run-${name}-checkpoints">${r.checkpoints.join(", ") || "—"}</td>
      <td class="actions">
        ${resumable ? html`<button class="btn small" data-testid="train-resume-${name}" @click=${(e: Event) => (e.stopPropagation(), this.resume(name))}>Resume</button>` : nothing}
        ${last !== undefined ? html`<button class="btn small" data-testid="train-chat-${name}" ?disabled=${this.active === name} @click=${(e: Event) => (e.stopPropagation(), this.chat(name, last))}>Chat</button>` : nothing}
        <button class="btn small" data-testid="train-download-${name}" ?disabled=${this.active === name} @click=${(e: Event) => (e.stopPropagation(), void this.download(name))}>Download</button>
        <button class="btn small danger" data-testid="train-delete-${name}" ?disabled=${this.active === name} @click=${(e: Event) => (e.stopPropagation(), void this.deleteRun(name))}>Delete</button>
      </td></tr>`;
  }

  private renderCommands(r: LocalRun | undefined) {
    if (!r) return nothing;
    const name = r.info.name;
    return html`<div class="train-commands muted" data-testid="train-commands">
      Download gives <code>${name}.zip</code>, the run folder. In the repository, unpack it into runs/, then chat with it or train it further:
      <code class="cmd">unzip ${name}.zip -d runs</code>
      <code class="cmd">deno task chat --run ${name}</code>
      <code class="cmd">${resumeCommand(name, r.info.preset ?? "tiny", r.info.config)}</code>
    </div>`;
  }
}

customElements.define("train-view", TrainView);

declare global {
  interface HTMLElementTagNameMap {
    "train-view": TrainView;
  }
}
