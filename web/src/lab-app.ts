// <lab-app>: the shell. A header with the tabs (Runs, Train, Chat, Report, Adapter — the URL
// hash keeps the tab: #runs, #train, #chat, #report, #adapter) and the adapter in a chip; each tab's view is created
// on its first visit and kept, so a loaded model survives switching tabs.
import { html, LitElement, nothing } from "lit";
import "./adapter-panel.ts";
import "./chat-view.ts";
import type { ChatView } from "./chat-view.ts";
import { type AdapterProblem, type AdapterReport, getAdapter } from "./gpu.ts";
import "./report-view.ts";
import "./runs-view.ts";
import "./train-view.ts";

export const TABS = [
  { id: "runs", label: "Runs" },
  { id: "train", label: "Train" },
  { id: "chat", label: "Chat" },
  { id: "report", label: "Report" },
  { id: "adapter", label: "Adapter" },
] as const;
export type TabId = (typeof TABS)[number]["id"];

function tabFromHash(): TabId {
  const h = location.hash.replace(/^#\/?/, "");
  return (TABS.find((t) => t.id === h)?.id ?? "runs") as TabId;
}

export class LabApp extends LitElement {
  static override properties = { tab: { state: true }, adapter: { state: true } };
  declare tab: TabId;
  declare adapter: AdapterReport | AdapterProblem | null;

  private visited = new Set<TabId>();
  /** Each tab's scroll position when it was left: a tab comes back where it was, a new one at the top. */
  private scrolls = new Map<TabId, number>();
  private onHash = () => this.show(tabFromHash());

  constructor() {
    super();
    this.tab = tabFromHash();
    this.adapter = null;
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    globalThis.addEventListener("hashchange", this.onHash);
    globalThis.addEventListener("popstate", this.onHash);
    void getAdapter().then((a) => (this.adapter = a));
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    globalThis.removeEventListener("hashchange", this.onHash);
    globalThis.removeEventListener("popstate", this.onHash);
  }

  /** Opens a tab as a new history entry, so Back returns to the previous tab instead of leaving the lab. */
  private go(tab: TabId): void {
    if (location.hash !== `#${tab}`) history.pushState(null, "", `#${tab}`);
    this.show(tab);
  }

  private show(tab: TabId): void {
    if (tab === this.tab) return;
    this.scrolls.set(this.tab, globalThis.scrollY);
    this.tab = tab;
    void this.updateComplete.then(() => globalThis.scrollTo(0, this.scrolls.get(tab) ?? 0));
  }

  /** The tab bar as the ARIA tabs pattern: ←/→ (and Home/End) move to the neighbouring tab and open it. */
  private onTabKey(e: KeyboardEvent): void {
    const i = TABS.findIndex((t) => t.id === this.tab);
    const next = e.key === "ArrowRight" ? (i + 1) % TABS.length : e.key === "ArrowLeft" ? (i + TABS.length - 1) % TABS.length
      : e.key === "Home" ? 0 : e.key === "End" ? TABS.length - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    this.go(TABS[next].id);
    void this.updateComplete.then(() => this.querySelector<HTMLElement>(`[data-testid=tab-${TABS[next].id}]`)?.focus());
  }

  private async openChat(e: CustomEvent<{ run: string; step: number }>): Promise<void> {
    this.go("chat");
    await this.updateComplete;
    await this.querySelector<ChatView>("chat-view")?.openServerCheckpoint(e.detail.run, e.detail.step);
  }

  private async openTrainedChat(e: CustomEvent<{ run: string; step: number }>): Promise<void> {
    this.go("chat");
    await this.updateComplete;
    await this.querySelector<ChatView>("chat-view")?.openTrainedRun(e.detail.run, e.detail.step);
  }

  protected override render() {
    this.visited.add(this.tab);
    const a = this.adapter;
    return html`
      <header class="app-header">
        <div class="brand">nanochat <span>lab</span></div>
        <nav class="tabs" role="tablist" @keydown=${(e: KeyboardEvent) => this.onTabKey(e)}>
          ${TABS.map((t) => html`<button role="tab" class=${this.tab === t.id ? "tab on" : "tab"} aria-selected=${this.tab === t.id}
            tabindex=${this.tab === t.id ? 0 : -1} data-testid="tab-${t.id}" @click=${() => this.go(t.id)}>${t.label}</button>`)}
        </nav>
        <span class="spacer"></span>
        <button class="adapter-chip ${a && !a.ok ? "bad" : ""}" data-testid="adapter-chip" title=${a ? (a.ok ? a.name : a.message) : ""}
          @click=${() => this.go("adapter")}>
          ${a === null ? "WebGPU…" : a.ok ? html`<span class="dot ${a.software ? "sw" : "hw"}"></span>${a.name}${a.software ? " · software" : ""}` : html`<span class="dot bad"></span>no WebGPU`}
        </button>
      </header>
      <main class="app-main" @open-chat=${(e: CustomEvent<{ run: string; step: number }>) => void this.openChat(e)}
        @open-local-chat=${(e: CustomEvent<{ run: string; step: number }>) => void this.openTrainedChat(e)}>
        ${this.visited.has("runs") ? html`<runs-view ?hidden=${this.tab !== "runs"} data-testid="view-runs"></runs-view>` : nothing}
        ${this.visited.has("train") ? html`<train-view ?hidden=${this.tab !== "train"} data-testid="view-train"></train-view>` : nothing}
        ${this.visited.has("chat") ? html`<chat-view ?hidden=${this.tab !== "chat"} data-testid="view-chat"></chat-view>` : nothing}
        ${this.visited.has("report") ? html`<report-view ?hidden=${this.tab !== "report"} data-testid="view-report"></report-view>` : nothing}
        ${this.visited.has("adapter") ? html`<adapter-panel ?hidden=${this.tab !== "adapter"} data-testid="view-adapter"></adapter-panel>` : nothing}
      </main>`;
  }
}

customElements.define("lab-app", LabApp);

declare global {
  interface HTMLElementTagNameMap {
    "lab-app": LabApp;
  }
}
