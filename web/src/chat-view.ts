// <chat-view>: the Chat tab. Left: where the model comes from (<checkpoint-loader>) and
// the sampling controls (temperature, top-k, max tokens, seed). Right: the transcript —
// user turns, assistant replies streamed piece by piece, calculator calls and their
// results in their own labelled boxes — with Send, Stop (aborts through the reply's
// AbortSignal) and New chat. The mode badge says whether the model chats or continues
// text (a base model: "complete").
import { html, LitElement, nothing, type PropertyValues } from "lit";
import { ChatSession, type ChatMode, type LoadedChatModel, loadChatModel, type ReplyPiece, type StopReason } from "./chat_model.ts";
import { loadConversation, saveConversation } from "./chat_store.ts";
import "./checkpoint-loader.ts";
import { stepDirName } from "../../src/formats/checkpoint.ts";
import { IdbFileStore, runDirOf } from "./train_store.ts";
import type { CheckpointLoader, ModelSource } from "./checkpoint-loader.ts";
import { fmtCount, fmtInt, fmtNum } from "./format.ts";
import { getGpu } from "./gpu.ts";

type PieceKind = ReplyPiece["kind"];
interface ShownPiece { kind: PieceKind; text: string }
interface Turn {
  role: "user" | "assistant";
  pieces: ShownPiece[];
  state: "streaming" | "done" | "stopped" | "error";
  error?: string;
  tokens: number;
  /** The reply's token ids (data-tokens in the page, for comparing with `deno task chat --tokens`). */
  ids: number[];
  ms: number;
  /** Why the reply ended (assistant turns). */
  stop?: StopReason;
}

const STOP_LABEL: Record<StopReason, string> = { end: "end token", max_tokens: "max tokens", context_full: "context full", stopped: "stopped" };

/** A turn as text, the calculator parts marked as `deno task chat` prints them. */
function turnText(t: Turn): string {
  return t.pieces.map((p) => (p.kind === "tool_call" ? `⟦calculator: ${p.text}⟧` : p.kind === "tool_output" ? `⟦= ${p.text}⟧` : p.text)).join("");
}

const TOOL_LABEL: Record<string, string> = { tool_call: "calculator", tool_output: "result" };

export class ChatView extends LitElement {
  static override properties = {
    turns: { state: true },
    mode: { state: true },
    modelInfo: { state: true },
    temperature: { state: true },
    topK: { state: true },
    maxTokens: { state: true },
    seed: { state: true },
    generating: { state: true },
    error: { state: true },
    draft: { state: true },
    system: { state: true },
    context: { state: true },
  };

  declare turns: Turn[];
  declare mode: ChatMode;
  declare modelInfo: { label: string; meta: Record<string, unknown>; defaultMode: ChatMode } | null;
  declare temperature: number;
  declare topK: number;
  declare maxTokens: number;
  declare seed: string;
  declare generating: boolean;
  declare error: string | null;
  declare draft: string;
  /** The system prompt (chat mode). */
  declare system: string;
  /** Tokens of the model's context the last prompt and reply took. */
  declare context: { used: number; capacity: number } | null;

  private model: LoadedChatModel | null = null;
  private session: ChatSession | null = null;
  private abort: AbortController | null = null;

  constructor() {
    super();
    this.turns = [];
    this.mode = "chat";
    this.modelInfo = null;
    this.temperature = 0.6;
    this.topK = 50;
    this.maxTokens = 128;
    this.seed = "";
    this.generating = false;
    this.error = null;
    this.draft = "";
    this.system = "";
    this.context = null;
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  // Esc stops a reply from anywhere on the page (as Stop does), while one is being written.
  private readonly onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape" && this.generating) {
      e.preventDefault();
      this.stop();
    }
  };

  override connectedCallback(): void {
    super.connectedCallback();
    document.addEventListener("keydown", this.onKey);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener("keydown", this.onKey);
    this.abort?.abort();
  }

  protected override firstUpdated(_changed: PropertyValues<this>): void {
    const loader = this.querySelector<CheckpointLoader>("checkpoint-loader");
    if (loader) loader.load = (source) => this.loadModel(source);
  }

  /** Loads a run's checkpoint from the server (the Runs tab's Chat buttons land here). */
  openServerCheckpoint(run: string, step: number): Promise<void> {
    const loader = this.querySelector<CheckpointLoader>("checkpoint-loader");
    return loader ? loader.openServerCheckpoint(run, step) : Promise.resolve();
  }

  /** Loads a checkpoint of a run trained in this browser (the Train tab's Chat buttons land here). */
  openTrainedRun(run: string, step: number): Promise<void> {
    const loader = this.querySelector<CheckpointLoader>("checkpoint-loader");
    const dir = runDirOf(run);
    return loader
      ? loader.openSource({ store: new IdbFileStore(), paths: { checkpointDir: `${dir}/checkpoints/${stepDirName(step)}`, tokenizerDir: `${dir}/tokenizer` }, label: `${run} · step ${step} (trained here)`, kind: "local" })
      : Promise.resolve();
  }

  private async loadModel(source: ModelSource): Promise<void> {
    this.stop();
    const gpu = await getGpu();
    const model = await loadChatModel(gpu, source.store, source.paths);
    this.model?.destroy();
    this.model = model;
    this.modelInfo = { label: source.label, meta: model.meta as unknown as Record<string, unknown>, defaultMode: model.defaultMode };
    const saved = await loadConversation<Turn>(source.label);
    this.setMode(saved?.mode ?? model.defaultMode, false);
    if (saved && this.session) {
      // The conversation this model had when the page last saw it.
      this.session.messages.push(...saved.messages);
      this.system = saved.system;
      this.turns = saved.turns.map((t) => (t.state === "streaming" ? { ...t, state: "stopped" } : t));
    }
  }

  private persist(): void {
    if (!this.modelInfo) return;
    void saveConversation<Turn>(this.modelInfo.label, {
      mode: this.mode, system: this.system, turns: this.turns, messages: this.session?.messages ?? [], savedAt: new Date().toISOString(),
    });
  }

  private setMode(mode: ChatMode, save = true): void {
    this.stop();
    this.mode = mode;
    this.session = this.model ? new ChatSession(this.model, mode) : null;
    this.turns = [];
    this.error = null;
    this.context = null;
    if (save) this.persist();
  }

  private newChat(): void {
    this.stop();
    this.session?.reset();
    this.turns = [];
    this.error = null;
    this.context = null;
    this.persist();
  }

  /** Drops turn i and everything after it (turns come in user/assistant pairs, as the session's history does). */
  private cutAt(i: number): string {
    const text = turnText(this.turns[i]);
    this.turns = this.turns.slice(0, i);
    this.session?.truncate(i / 2);
    return text;
  }

  /** Asks the last question again: a new reply in place of the last one. */
  private regenerate(): void {
    const i = this.turns.length - 2;
    if (!this.session || this.generating || i < 0 || this.turns[i].role !== "user") return;
    void this.send(this.cutAt(i));
  }

  /** Puts user turn i back in the composer, dropping it and what followed, to edit and send again. */
  private edit(i: number): void {
    if (!this.session || this.generating || this.turns[i]?.role !== "user") return;
    this.draft = this.cutAt(i);
    this.persist();
    void this.updateComplete.then(() => this.querySelector<HTMLTextAreaElement>("[data-testid=chat-input]")?.focus());
  }

  private async copy(t: Turn): Promise<void> {
    try {
      await navigator.clipboard.writeText(turnText(t));
    } catch (err) {
      this.error = `could not copy: ${(err as Error).message}`;
    }
  }

  private stop(): void {
    this.abort?.abort();
  }

  private async send(again?: string): Promise<void> {
    const text = again ?? this.draft;
    if (!this.session || this.generating || text.trim() === "") return;
    if (again === undefined) this.draft = "";
    this.session.system = this.mode === "chat" ? this.system : "";
    this.error = null;
    const user: Turn = { role: "user", pieces: [{ kind: "text", text }], state: "done", tokens: 0, ids: [], ms: 0 };
    const reply: Turn = { role: "assistant", pieces: [], state: "streaming", tokens: 0, ids: [], ms: 0 };
    this.turns = [...this.turns, user, reply];
    this.generating = true;
    const abort = new AbortController();
    this.abort = abort;
    const t0 = performance.now();
    const seed = this.seed.trim() === "" ? undefined : Number(this.seed);
    try {
      for await (const piece of this.session.reply(text, {
        temperature: this.temperature,
        topK: this.topK > 0 ? this.topK : undefined,
        maxTokens: this.maxTokens,
        seed: Number.isFinite(seed) ? seed : undefined,
        signal: abort.signal,
      })) {
        // Pieces arrive a token at a time: one box per calculator call and per result (a
        // call is always followed by its forced result, so same-kind neighbours belong together).
        const last = reply.pieces.at(-1);
        if (last && last.kind === piece.kind) last.text += piece.text;
        else reply.pieces.push({ kind: piece.kind, text: piece.text });
        reply.tokens += piece.tokens.length;
        reply.ids.push(...piece.tokens);
        reply.ms = performance.now() - t0;
        this.turns = [...this.turns]; // re-render the streaming turn
        this.scrollTranscript();
        if (abort.signal.aborted) break;
      }
      reply.state = abort.signal.aborted ? "stopped" : "done";
    } catch (err) {
      if (abort.signal.aborted || (err as Error).name === "AbortError") reply.state = "stopped";
      else {
        reply.state = "error";
        reply.error = (err as Error).message ?? String(err);
      }
    } finally {
      reply.ms = performance.now() - t0;
      reply.stop = this.session.lastStop ?? undefined;
      this.context = { used: this.session.lastContextTokens, capacity: this.session.capacity };
      this.turns = [...this.turns];
      this.generating = false;
      this.abort = null;
      this.scrollTranscript();
      this.persist();
    }
  }

  private scrollTranscript(): void {
    void this.updateComplete.then(() => {
      const el = this.querySelector(".transcript");
      if (el) el.scrollTop = el.scrollHeight;
    });
  }

  protected override render() {
    return html`
      <div class="chat-layout" data-testid="chat-view">
        <aside class="panel chat-side">
          <checkpoint-loader></checkpoint-loader>
          ${this.renderSettings()}
        </aside>
        <section class="panel chat-main">
          ${this.renderHead()}
          ${this.renderTranscript()}
          ${this.renderInput()}
        </section>
      </div>`;
  }

  private renderSettings() {
    return html`
      <div class="settings">
        <h3>Sampling</h3>
        <label class="setting">temperature <span class="value" data-testid="chat-temperature-value">${this.temperature.toFixed(2)}</span>
          <input type="range" min="0" max="2" step="0.05" data-testid="chat-temperature" .value=${String(this.temperature)}
            @input=${(e: Event) => (this.temperature = Number((e.target as HTMLInputElement).value))} />
          <span class="hint">0 = always the most likely token</span>
        </label>
        <label class="setting">top-k <span class="unit">tokens</span>
          <input type="number" min="0" max="100000" step="1" data-testid="chat-topk" .value=${String(this.topK)}
            @change=${(e: Event) => (this.topK = Math.max(0, Math.floor(Number((e.target as HTMLInputElement).value) || 0)))} />
          <span class="hint">sample among the k most likely; 0 = all</span>
        </label>
        <label class="setting">max tokens <span class="unit">per reply</span>
          <input type="number" min="1" max="4096" step="1" data-testid="chat-max-tokens" .value=${String(this.maxTokens)}
            @change=${(e: Event) => (this.maxTokens = Math.min(4096, Math.max(1, Math.floor(Number((e.target as HTMLInputElement).value) || 1))))} />
        </label>
        ${this.mode === "chat" && this.model
          ? html`<label class="setting setting-wide">system prompt
              <textarea rows="2" data-testid="chat-system" placeholder="none" .value=${this.system}
                @change=${(e: Event) => { this.system = (e.target as HTMLTextAreaElement).value; this.persist(); }}></textarea>
              <span class="hint">folded into the first user message, as nanochat's chat format does</span>
            </label>`
          : nothing}
        <label class="setting">seed
          <input type="text" inputmode="numeric" placeholder="random" data-testid="chat-seed" .value=${this.seed}
            @change=${(e: Event) => (this.seed = (e.target as HTMLInputElement).value)} />
        </label>
      </div>`;
  }

  private renderHead() {
    const info = this.modelInfo;
    const cfg = (info?.meta.model_config ?? {}) as Record<string, number>;
    return html`
      <div class="panel-head">
        <h2>Chat</h2>
        ${info
          ? html`<span class="badge badge-mode" data-testid="chat-mode" data-mode=${this.mode}
              title=${this.mode === "chat" ? "the model answers turns of a conversation" : "a base model: it continues the text you give it"}>${this.mode}</span>`
          : nothing}
        ${info
          ? html`<span class="muted model-info" data-testid="model-info" title=${info.label}>${info.label} · ${fmtCount(cfg.n_layer, "layer")} ·
              ${fmtInt(cfg.n_embd)} wide · vocab ${fmtInt(cfg.vocab_size)} · context ${fmtInt(cfg.sequence_len)} tokens
              ${typeof info.meta.val_bpb === "number" ? html` · val ${fmtNum(info.meta.val_bpb)} bpb` : nothing}</span>`
          : html`<span class="muted">no model loaded</span>`}
        <span class="spacer"></span>
        ${info
          ? html`<div class="segmented" role="group" aria-label="mode">
              ${(["chat", "complete"] as const).map((m) => html`<button class=${this.mode === m ? "on" : ""} data-testid="chat-mode-${m}"
                ?disabled=${this.generating} @click=${() => this.setMode(m)}>${m}</button>`)}
            </div>`
          : nothing}
        <button class="btn ghost" data-testid="chat-reset" ?disabled=${!this.session || this.generating} @click=${() => this.newChat()}>New chat</button>
      </div>`;
  }

  private renderTranscript() {
    const complete = this.mode === "complete";
    return html`
      <div class="transcript" data-testid="chat-transcript">
        ${this.turns.length === 0
          ? html`<div class="empty">${this.model
            ? complete ? "Type the start of a text; the model continues it." : "Say something to the model."
            : "Load a checkpoint on the left: a run on the lab server or a folder on your disk."}</div>`
          : nothing}
        ${this.turns.map((t, i) => html`
          <div class="turn turn-${t.role} state-${t.state}" data-testid="turn" data-role=${t.role} data-state=${t.state} data-tokens=${t.ids.join(",")}
            data-stop=${t.stop ?? ""}>
            <div class="turn-who">${t.role === "user" ? (complete ? "prompt" : "you") : complete ? "continuation" : "model"}</div>
            <div class="turn-body">
              ${t.pieces.map((p) => p.kind === "text"
                ? html`<span class="piece-text" data-testid="piece" data-kind="text">${p.text}</span>`
                : html`<div class="tool-box tool-${p.kind}" data-testid="piece" data-kind=${p.kind}>
                    <div class="tool-label">${TOOL_LABEL[p.kind] ?? p.kind}</div><pre>${p.text}</pre></div>`)}
              ${t.state === "streaming" ? html`<span class="cursor">▍</span>` : nothing}
              ${t.role === "assistant" && t.state !== "streaming"
                ? html`<div class="turn-meta">${fmtCount(t.tokens, "token")} · ${(t.ms / 1000).toFixed(1)} s${t.ms > 0 ? ` · ${(t.tokens / (t.ms / 1000)).toFixed(1)} tok/s` : ""}
                    ${t.stop ? html` · <span data-testid="turn-stop">${t.stop === "stopped" ? html`<strong>stopped</strong>` : `ended: ${STOP_LABEL[t.stop]}`}</span>` : nothing}
                    <span class="turn-actions">
                      <button class="link" data-testid="turn-copy" @click=${() => void this.copy(t)}>copy</button>
                      ${i === this.turns.length - 1 && !this.generating
                        ? html`<button class="link" data-testid="turn-regenerate" @click=${() => this.regenerate()}>regenerate</button>`
                        : nothing}
                    </span></div>`
                : t.role === "user" && !this.generating
                ? html`<div class="turn-meta"><span class="turn-actions"><button class="link" data-testid="turn-edit" @click=${() => this.edit(i)}>edit</button></span></div>`
                : nothing}
              ${t.error ? html`<div class="error-box text">${t.error}</div>` : nothing}
            </div>
          </div>`)}
      </div>`;
  }

  private renderInput() {
    const last = this.turns.at(-1);
    return html`
      <div class="composer">
        <textarea data-testid="chat-input" rows="2" ?disabled=${!this.session}
          placeholder=${this.mode === "complete" ? "The start of a text… (Enter to send, Shift+Enter for a new line)" : "Message… (Enter to send, Shift+Enter for a new line)"}
          .value=${this.draft}
          @input=${(e: Event) => (this.draft = (e.target as HTMLTextAreaElement).value)}
          @keydown=${(e: KeyboardEvent) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void this.send();
            }
          }}></textarea>
        <div class="composer-buttons">
          <button class="btn primary" data-testid="chat-send" ?disabled=${!this.session || this.generating || this.draft.trim() === ""} @click=${() => void this.send()}>Send</button>
          <button class="btn danger" data-testid="chat-stop" title="Stop the reply (Esc)" ?disabled=${!this.generating} @click=${() => this.stop()}>Stop</button>
        </div>
        ${this.context
          ? html`<div class="context-meter muted small" data-testid="context-meter" data-used=${this.context.used} data-capacity=${this.context.capacity}
              title="the last prompt and reply, of the model's context">
              context ${fmtInt(this.context.used)} / ${fmtCount(this.context.capacity, "token")}
              <div class="bar"><div style="width:${Math.min(100, (100 * this.context.used) / this.context.capacity).toFixed(1)}%"></div></div>
            </div>`
          : nothing}
        <div class="chat-status muted small" data-testid="chat-status">
          ${this.generating && last ? `generating… ${fmtCount(last.tokens, "token")}${last.ms > 0 ? ` · ${(last.tokens / (last.ms / 1000)).toFixed(1)} tok/s` : ""}` : ""}
          ${this.error ? html`<span class="error-line">${this.error}</span>` : nothing}
        </div>
      </div>`;
  }
}

customElements.define("chat-view", ChatView);

declare global {
  interface HTMLElementTagNameMap {
    "chat-view": ChatView;
  }
}
