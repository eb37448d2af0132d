// Launches the system Chromium with WebGPU on through playwright-core, serves a
// Vite-built page on 127.0.0.1 (a secure context, unlike about:blank) and hands the
// page to a test. Chromium is never skipped quietly: without it this throws with
// the command that installs it.
import { chromium, type Browser, type Page } from "playwright-core";
import { build } from "vite";
import { CHROMIUM_ARGS, findChromium } from "../../src/cli/chromium_path.ts";

export { CHROMIUM_ARGS };

export function chromiumPath(): string {
  const found = findChromium();
  if (found) return found;
  throw new Error(
    "Chromium is needed for the browser tests and was not found.\n" +
      "Install it with:  sudo apt-get install -y chromium   (or set CHROMIUM_PATH to a Chromium/Chrome binary)",
  );
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".wgsl": "text/plain; charset=utf-8",
  ".json": "application/json",
};

/** Serves a directory on 127.0.0.1 at a free port; returns the base URL and a closer. */
export function serveDir(root: string): { url: string; close: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    const file = `${root}${path.endsWith("/") ? path + "index.html" : path}`;
    try {
      const body = await Deno.readFile(file);
      const ext = file.slice(file.lastIndexOf("."));
      return new Response(body, { headers: { "content-type": MIME[ext] ?? "application/octet-stream" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const addr = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${addr.port}/`, close: () => server.shutdown() };
}

/** Builds a page directory (with index.html) with Vite into build/<name>. */
export async function buildPage(pageDir: URL, name: string): Promise<string> {
  const outDir = new URL(`../../build/${name}/`, import.meta.url).pathname;
  await build({
    root: pageDir.pathname,
    logLevel: "warn",
    build: { outDir, emptyOutDir: true, target: "es2022" },
  });
  return outDir;
}

export async function withChromiumPage<T>(url: string, fn: (page: Page) => Promise<T>): Promise<T> {
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  } catch (err) {
    throw new Error(`could not start Chromium: ${(err as Error).message}`);
  }
  try {
    const page = await browser.newPage();
    const consoleLines: string[] = [];
    page.on("console", (m) => consoleLines.push(`[page ${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => consoleLines.push(`[page error] ${e.message}`));
    await page.goto(url);
    try {
      return await fn(page);
    } catch (err) {
      throw new Error(`${(err as Error).message}\npage console:\n${consoleLines.join("\n")}`);
    }
  } finally {
    await browser.close();
  }
}
