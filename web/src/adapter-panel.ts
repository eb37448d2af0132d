// <adapter-panel>: the Adapter tab. What WebGPU adapter this browser gives the lab —
// vendor, architecture, description, software or hardware — its features (the ones the
// kernels use marked) and the limits that bound model size, in a table with units. When
// there is no WebGPU or no adapter it says what to do instead.
import { html, LitElement, nothing } from "lit";
import { WANTED_FEATURES } from "../../src/gpu/device.ts";
import { fmtBytes, fmtInt } from "./format.ts";
import { type AdapterProblem, type AdapterReport, getAdapter } from "./gpu.ts";

/** The limits that matter to the lab, with what they bound and their unit. */
export const KEY_LIMITS: { name: string; unit: "bytes" | "count"; why: string }[] = [
  { name: "maxBufferSize", unit: "bytes", why: "largest single buffer (weights of one matrix, KV cache)" },
  { name: "maxStorageBufferBindingSize", unit: "bytes", why: "largest tensor a kernel can bind" },
  { name: "maxComputeWorkgroupStorageSize", unit: "bytes", why: "shared memory per workgroup (matmul and attention tiles)" },
  { name: "maxComputeInvocationsPerWorkgroup", unit: "count", why: "threads per workgroup" },
  { name: "maxComputeWorkgroupSizeX", unit: "count", why: "workgroup width" },
  { name: "maxComputeWorkgroupSizeY", unit: "count", why: "workgroup height" },
  { name: "maxComputeWorkgroupsPerDimension", unit: "count", why: "dispatch grid per dimension" },
  { name: "maxStorageBuffersPerShaderStage", unit: "count", why: "buffers one kernel binds" },
  { name: "maxBindGroups", unit: "count", why: "bind groups per pipeline" },
  { name: "maxUniformBufferBindingSize", unit: "bytes", why: "uniform (parameter) block size" },
];

export class AdapterPanel extends LitElement {
  static override properties = { report: { state: true } };
  declare report: AdapterReport | AdapterProblem | null;

  constructor() {
    super();
    this.report = null;
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void getAdapter().then((r) => (this.report = r));
  }

  protected override render() {
    const r = this.report;
    if (!r) return html`<section class="panel"><div class="muted" data-testid="adapter-loading">asking the browser for a WebGPU adapter…</div></section>`;
    if (!r.ok) return this.renderProblem(r);
    const info = r.info as GPUAdapterInfo & { isFallbackAdapter?: boolean; subgroupMinSize?: number; subgroupMaxSize?: number };
    const wanted = new Set<string>(WANTED_FEATURES);
    return html`
      <section class="panel" data-testid="adapter-panel" data-adapter=${r.name}>
        <div class="panel-head">
          <h2>WebGPU adapter</h2>
          <span class="badge ${r.software ? "badge-stopped" : "badge-finished"}" data-testid="adapter-kind">${r.software ? "software" : "hardware"}</span>
        </div>
        ${r.software
          ? html`<div class="note">This is a software rasterizer: WebGPU works, but every kernel runs on the CPU. Keep models tiny here (a few layers, short context); use a machine with a GPU for real training or chat.</div>`
          : nothing}
        <div class="details-grid two">
          <div>
            <h3>Identity</h3>
            <table class="kv" data-testid="adapter-info">
              <tr><th>name</th><td data-testid="adapter-name">${r.name}</td></tr>
              <tr><th>vendor</th><td data-testid="adapter-vendor">${info.vendor || "—"}</td></tr>
              <tr><th>architecture</th><td data-testid="adapter-architecture">${info.architecture || "—"}</td></tr>
              <tr><th>device</th><td>${info.device || "—"}</td></tr>
              <tr><th>description</th><td data-testid="adapter-description">${info.description || "—"}</td></tr>
              ${info.isFallbackAdapter !== undefined ? html`<tr><th>fallback adapter</th><td>${info.isFallbackAdapter ? "yes" : "no"}</td></tr>` : nothing}
              ${info.subgroupMinSize ? html`<tr><th>subgroup size</th><td>${info.subgroupMinSize}–${info.subgroupMaxSize} invocations</td></tr>` : nothing}
              <tr><th>browser</th><td class="small">${navigator.userAgent.replace(/^Mozilla\/5\.0 /, "")}</td></tr>
            </table>
            <h3>Features <span class="muted">(${r.features.length})</span></h3>
            <ul class="features" data-testid="adapter-features">
              ${r.features.map((f) => html`<li class=${wanted.has(f) ? "wanted" : ""} title=${wanted.has(f) ? "used by the lab's kernels" : ""}>${f}</li>`)}
            </ul>
            <div class="muted small">Highlighted: used by the kernels when present (${WANTED_FEATURES.join(", ")}); the lab runs without them, slower.</div>
          </div>
          <div>
            <h3>Key limits</h3>
            <table class="kv limits" data-testid="adapter-limits">
              <tr><th>limit</th><th class="num">value</th><th>bounds</th></tr>
              ${KEY_LIMITS.filter((l) => l.name in r.limits).map((l) => html`
                <tr data-testid="limit-row" data-limit=${l.name} data-value=${r.limits[l.name]}>
                  <td class="mono">${l.name}</td>
                  <td class="num" title=${`${r.limits[l.name]}`}>${l.unit === "bytes" ? fmtBytes(r.limits[l.name]) : fmtInt(r.limits[l.name])}</td>
                  <td class="muted small">${l.why}</td>
                </tr>`)}
            </table>
            <details>
              <summary>all ${Object.keys(r.limits).length} limits</summary>
              <table class="kv limits">
                ${Object.entries(r.limits).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => html`<tr><td class="mono">${k}</td><td class="num">${fmtInt(v)}</td></tr>`)}
              </table>
            </details>
          </div>
        </div>
      </section>`;
  }

  private renderProblem(p: AdapterProblem) {
    return html`
      <section class="panel" data-testid="adapter-panel" data-problem=${p.reason}>
        <div class="panel-head"><h2>WebGPU adapter</h2><span class="badge badge-failed">unavailable</span></div>
        <div class="error-box" data-testid="adapter-error">
          <strong>${p.reason === "no-webgpu" ? "This browser has no WebGPU." : p.reason === "no-adapter" ? "WebGPU found no adapter." : "WebGPU failed."}</strong>
          <pre>${p.message}</pre>
        </div>
        <h3>To get WebGPU</h3>
        <ul class="help" data-testid="adapter-help">
          <li>Use a Chromium-based browser (Chrome, Edge, Chromium) version 113 or newer, Safari 26+, or Firefox 141+ on Windows; elsewhere turn WebGPU on in the browser's flags (<code>chrome://flags/#enable-unsafe-webgpu</code>).</li>
          <li>Open the lab over <code>http://127.0.0.1</code> / <code>http://localhost</code> or <code>https://</code>: WebGPU exists only in secure contexts, so <code>http://&lt;LAN address&gt;</code> does not work.</li>
          <li>On Linux, start Chromium with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>; without a GPU, <code>apt-get install mesa-vulkan-drivers</code> gives a software adapter.</li>
          <li>Turn on hardware acceleration in the browser's settings and update the GPU driver; check <code>chrome://gpu</code> for "WebGPU: Hardware accelerated".</li>
        </ul>
        <p class="muted">The Runs tab works without WebGPU; only the Chat tab needs it.</p>
      </section>`;
  }
}

customElements.define("adapter-panel", AdapterPanel);

declare global {
  interface HTMLElementTagNameMap {
    "adapter-panel": AdapterPanel;
  }
}
