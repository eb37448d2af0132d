// <checkpoint-loader>: where a chat model comes from. Either a run + checkpoint on the lab
// server (downloaded through the HTTP store with per-file progress, cached in IndexedDB),
// or a folder on disk (chosen with <input webkitdirectory> or dropped) holding
// model.safetensors + meta.json + tokenizer.json. It calls its `load` property with the
// store and paths and shows progress and errors; the cache's size and a Clear button sit
// at the bottom.
import { html, LitElement, nothing } from "lit";
import type { FileStore } from "../../src/io/files.ts";
import { fetchRuns, type RunSummary } from "./api.ts";
import { CACHE_CHANGED, checkpointCache } from "./checkpoint_cache.ts";
import { fmtBytes, fmtMB } from "./format.ts";
import { checkpointPaths, HttpStore, type Progress } from "./http_store.ts";
import { LocalFilesStore } from "./local_store.ts";

export interface ModelSource {
  store: FileStore;
  paths: { checkpointDir: string; tokenizerDir: string };
  /** "tiny1 · step 8" or the folder's name. */
  label: string;
  kind: "server" | "local";
}

export type LoadFn = (source: ModelSource) => Promise<void>;

interface FileProgress { name: string; loaded: number; total: number | null; cached: boolean; done: boolean }

export class CheckpointLoader extends LitElement {
  static override properties = {
    load: { attribute: false },
    runs: { state: true },
    run: { state: true },
    step: { state: true },
    busy: { state: true },
    error: { state: true },
    progress: { state: true },
    cacheBytes: { state: true },
    cacheFiles: { state: true },
    dragging: { state: true },
    loadedLabel: { state: true },
  };

  declare load: LoadFn | null;
  declare runs: RunSummary[];
  declare run: string;
  declare step: number | null;
  declare busy: boolean;
  declare error: string | null;
  declare progress: FileProgress[];
  declare cacheBytes: number;
  declare cacheFiles: number;
  declare dragging: boolean;
  declare loadedLabel: string | null;

  private onCacheChanged = () => void this.refreshCache();
  private abort: AbortController | null = null;

  constructor() {
    super();
    this.load = null;
    this.runs = [];
    this.run = "";
    this.step = null;
    this.busy = false;
    this.error = null;
    this.progress = [];
    this.cacheBytes = 0;
    this.cacheFiles = 0;
    this.dragging = false;
    this.loadedLabel = null;
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    globalThis.addEventListener(CACHE_CHANGED, this.onCacheChanged);
    void this.refreshRuns();
    void this.refreshCache();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    globalThis.removeEventListener(CACHE_CHANGED, this.onCacheChanged);
  }

  async refreshRuns(): Promise<void> {
    try {
      const runs = (await fetchRuns()).filter((r) => r.checkpoints?.length);
      runs.sort((a, b) => (b.updated_at ?? "").localeCompare(a.updated_at ?? ""));
      this.runs = runs;
      if (!runs.some((r) => r.name === this.run)) this.selectRun(runs[0]?.name ?? "");
    } catch (err) {
      this.runs = [];
      this.error = `cannot list the server's runs: ${(err as Error).message}`;
    }
  }

  async refreshCache(): Promise<void> {
    const { bytes, files } = await checkpointCache.totalBytes();
    this.cacheBytes = bytes;
    this.cacheFiles = files;
  }

  private selectRun(name: string): void {
    this.run = name;
    const r = this.runs.find((x) => x.name === name);
    this.step = r?.checkpoints?.length ? Math.max(...r.checkpoints) : null;
  }

  /** Selects a run's checkpoint (from the Runs tab's Chat buttons) and loads it. */
  async openServerCheckpoint(run: string, step: number): Promise<void> {
    if (!this.runs.some((r) => r.name === run)) await this.refreshRuns();
    this.run = run;
    this.step = step;
    await this.loadFromServer();
  }

  /** Loads a model from a store the page already has (a run trained in the Train tab). */
  openSource(source: ModelSource): Promise<void> {
    this.progress = [];
    return this.runLoad(source);
  }

  private async runLoad(source: ModelSource): Promise<void> {
    if (!this.load) {
      this.error = "the chat is not ready to load a model";
      return;
    }
    this.busy = true;
    this.error = null;
    try {
      await this.load(source);
      this.loadedLabel = source.label;
    } catch (err) {
      this.error = (err as Error).message ?? String(err);
    } finally {
      this.busy = false;
      this.abort = null;
    }
  }

  async loadFromServer(): Promise<void> {
    if (!this.run || this.step === null) return;
    this.progress = [];
    this.abort = new AbortController();
    const store = new HttpStore({
      cache: checkpointCache,
      exclude: ["optim.safetensors"],
      signal: this.abort.signal,
      onProgress: (p) => this.onProgress(p),
    });
    await this.runLoad({ store, paths: checkpointPaths(this.run, this.step), label: `${this.run} · step ${this.step}`, kind: "server" });
  }

  private onProgress(p: Progress): void {
    const name = p.path.slice(p.path.lastIndexOf("/") + 1);
    const next = this.progress.filter((f) => f.name !== name);
    next.push({ name, loaded: p.loaded, total: p.total, cached: p.cached, done: p.done });
    const order = ["meta.json", "model.safetensors", "tokenizer.json"];
    next.sort((a, b) => (order.indexOf(a.name) + 1 || 9) - (order.indexOf(b.name) + 1 || 9));
    this.progress = next;
  }

  private async loadLocal(store: LocalFilesStore): Promise<void> {
    this.progress = [];
    let paths;
    try {
      paths = store.findModel();
    } catch (err) {
      this.error = (err as Error).message;
      return;
    }
    await this.runLoad({ store, paths: { checkpointDir: paths.checkpointDir, tokenizerDir: paths.tokenizerDir }, label: `${paths.label} (local, ${fmtBytes(store.size)})`, kind: "local" });
  }

  private onPick(e: Event): void {
    const input = e.target as HTMLInputElement;
    if (input.files?.length) void this.loadLocal(LocalFilesStore.fromFileList(input.files));
    input.value = "";
  }

  private async onDrop(e: DragEvent): Promise<void> {
    e.preventDefault();
    this.dragging = false;
    if (!e.dataTransfer) return;
    try {
      await this.loadLocal(await LocalFilesStore.fromDataTransfer(e.dataTransfer));
    } catch (err) {
      this.error = `cannot read the dropped files: ${(err as Error).message}`;
    }
  }

  protected override render() {
    const run = this.runs.find((r) => r.name === this.run);
    const steps = [...(run?.checkpoints ?? [])].sort((a, b) => b - a);
    return html`
      <div class="loader" data-testid="checkpoint-loader">
        <h3>Model</h3>
        ${this.loadedLabel ? html`<div class="loaded-label" data-testid="loaded-model">${this.loadedLabel}</div>` : nothing}
        <fieldset class="source" ?disabled=${this.busy}>
          <legend>From the lab server</legend>
          <label>run
            <select data-testid="loader-run" .value=${this.run} @change=${(e: Event) => this.selectRun((e.target as HTMLSelectElement).value)}>
              ${this.runs.length === 0 ? html`<option value="">no run has a checkpoint yet</option>` : nothing}
              ${this.runs.map((r) => html`<option value=${r.name} ?selected=${r.name === this.run}>${r.name} (${r.stage}, ${r.status})</option>`)}
            </select>
          </label>
          <label>checkpoint
            <select data-testid="loader-step" @change=${(e: Event) => (this.step = Number((e.target as HTMLSelectElement).value))}>
              ${steps.map((s) => html`<option value=${s} ?selected=${s === this.step}>step ${s.toLocaleString("en-US")}</option>`)}
            </select>
          </label>
          <div class="row">
            <button class="btn primary" data-testid="loader-load" ?disabled=${!run || this.step === null} @click=${() => void this.loadFromServer()}>Load</button>
            <button class="btn ghost" title="list the runs again" @click=${() => void this.refreshRuns()}>↻</button>
          </div>
        </fieldset>
        <fieldset class="source" ?disabled=${this.busy}>
          <legend>From your disk</legend>
          <div class=${`dropzone ${this.dragging ? "over" : ""}`} data-testid="loader-drop"
            @dragover=${(e: DragEvent) => { e.preventDefault(); this.dragging = true; }}
            @dragleave=${() => (this.dragging = false)}
            @drop=${(e: DragEvent) => void this.onDrop(e)}>
            Drop a checkpoint folder here<br /><span class="muted small">model.safetensors + meta.json + tokenizer.json</span>
          </div>
          <div class="row">
            <label class="btn" tabindex="0" role="button" data-testid="loader-folder-button" @keydown=${pickOnKey}>Choose folder…<input type="file" hidden webkitdirectory multiple data-testid="loader-folder" @change=${(e: Event) => this.onPick(e)} /></label>
            <label class="btn" tabindex="0" role="button" data-testid="loader-files-button" @keydown=${pickOnKey}>Choose files…<input type="file" hidden multiple accept=".safetensors,.json" data-testid="loader-files" @change=${(e: Event) => this.onPick(e)} /></label>
          </div>
        </fieldset>
        ${this.busy
          ? html`<div class="row"><span class="spinner"></span> loading…
              ${this.abort ? html`<button class="btn small ghost" @click=${() => this.abort?.abort()}>Cancel</button>` : nothing}</div>`
          : nothing}
        ${this.progress.length
          ? html`<ul class="progress-list" data-testid="loader-progress">
              ${this.progress.map((f) => {
                const pct = f.total ? Math.min(100, (100 * f.loaded) / f.total) : f.done ? 100 : 0;
                return html`<li data-file=${f.name} data-done=${f.done} data-cached=${f.cached}>
                  <div class="progress-label"><span class="mono">${f.name}</span>
                    <span class="muted">${f.cached ? "cached" : `${fmtBytes(f.loaded)}${f.total ? ` / ${fmtBytes(f.total)}` : ""}`}</span></div>
                  <div class="bar"><div style=${`width:${pct.toFixed(1)}%`}></div></div>
                </li>`;
              })}
            </ul>`
          : nothing}
        ${this.error ? html`<div class="error-box text" data-testid="loader-error">${this.error}</div>` : nothing}
        <div class="cache-line">
          <span data-testid="cache-size" data-bytes=${this.cacheBytes}>Cache: ${fmtMB(this.cacheBytes)} in ${this.cacheFiles} file${this.cacheFiles === 1 ? "" : "s"}</span>
          <button class="btn small ghost" data-testid="cache-clear" ?disabled=${this.cacheFiles === 0}
            @click=${async () => { await checkpointCache.clear(); await this.refreshCache(); }}>Clear cache</button>
        </div>
        ${checkpointCache.disabledReason ? html`<div class="muted small">no cache: ${checkpointCache.disabledReason}</div>` : nothing}
      </div>`;
  }
}

/** A file-picker label is a button to the keyboard: Enter or Space opens its hidden input's dialog. */
function pickOnKey(e: KeyboardEvent): void {
  if (e.key !== "Enter" && e.key !== " ") return;
  e.preventDefault();
  (e.currentTarget as HTMLElement).querySelector<HTMLInputElement>("input[type=file]")?.click();
}

customElements.define("checkpoint-loader", CheckpointLoader);

declare global {
  interface HTMLElementTagNameMap {
    "checkpoint-loader": CheckpointLoader;
  }
}
