// The browser lab's test fixture: a real tiny training run in a temporary runs directory
// (tests/e2e/tiny_run.ts, as a subprocess), the web app built with Vite, the lab server on
// a free port, and one headless Chromium (WebGPU on SwiftShader) whose pages are 1280×800.
// Started once per test file.
import { type Browser, chromium, type Page } from "playwright-core";
import { readMetrics } from "../../src/formats/metrics.ts";
import { buildWeb } from "../../src/server/static.ts";
import { type LabServer, startLabServer } from "../../src/server/server.ts";
import { ROOT, trainTiny } from "../e2e/tiny_run.ts";
import { CHROMIUM_ARGS, chromiumPath } from "./chromium.ts";

export { ROOT };
export const SCREENSHOT_DIR = `${ROOT}build/test-output/screenshots`;
export const VIEWPORT = { width: 1280, height: 800 };

export interface LabFixture {
  tmp: string;
  runsDir: string;
  /** The trained run's name. */
  run: string;
  runDir: string;
  metricsPath: string;
  server: LabServer;
  browser: Browser;
  /** A new 1280×800 page on the lab (plus `hash`), with its console kept for error messages; `init` runs before the page's scripts. */
  open(hash?: string, init?: string): Promise<LabPage>;
  close(): Promise<void>;
}

export interface LabPage {
  page: Page;
  /** The page's console and errors so far, for assertion messages. */
  console(): string;
  close(): Promise<void>;
}

/** The records of a run's metrics.jsonl of one type. */
export async function recordsOf(metricsPath: string, type: string): Promise<Record<string, unknown>[]> {
  return readMetrics(await Deno.readTextFile(metricsPath)).filter((r) => r.type === type);
}

/** Appends text to a file with O_APPEND in one write, as the training loop does. */
export async function appendText(path: string, text: string): Promise<void> {
  const f = await Deno.open(path, { append: true });
  try {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
  } finally {
    f.close();
  }
}

async function startFixture(): Promise<LabFixture> {
  const tmp = await Deno.makeTempDir({ prefix: "nanochat-lab-" });
  const run = "tiny-lab";
  const [, webDir] = await Promise.all([trainTiny(tmp, run, { checkpointEvery: 4 }), buildWeb("build/web-lab-test")]);
  const runsDir = `${tmp}/runs`;
  const server = await startLabServer({ runsDir, webDir, port: 0, pollMs: 100, dataDir: `${tmp}/data`, tokenizerDir: `${tmp}/tok` });
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  } catch (err) {
    await server.close();
    throw new Error(`could not start Chromium: ${(err as Error).message}`);
  }
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  return {
    tmp, runsDir, run, runDir: `${runsDir}/${run}`, metricsPath: `${runsDir}/${run}/metrics.jsonl`, server, browser,
    async open(hash = "", init?: string) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const page = await context.newPage();
      if (init) await page.addInitScript(init);
      const lines: string[] = [];
      page.on("console", (m) => lines.push(`[page ${m.type()}] ${m.text()}`));
      page.on("pageerror", (e) => lines.push(`[page error] ${e.message}`));
      await page.goto(server.url + hash);
      return { page, console: () => lines.join("\n"), close: () => context.close() };
    },
    async close() {
      await browser.close().catch(() => {});
      await server.close();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}

let fixture: Promise<LabFixture> | null = null;

/** The file's shared fixture, started on first use. */
export function labFixture(): Promise<LabFixture> {
  fixture ??= startFixture();
  return fixture;
}
