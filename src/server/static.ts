// The web app: building it with Vite (web/ → build/web) and serving the build.
// Any GET outside /api/ whose last segment has no extension is the single-page app's
// own route and gets index.html; asset names go through the same checks as run files.
import { fileResponse, HttpError } from "./http.ts";
import { ASSET_NAME, checkName, mustOpen, realPathOrNull } from "./paths.ts";
import { UserError } from "../util/errors.ts";

/** The repository root (this file is src/server/static.ts). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const WEB_SRC = `${REPO_ROOT}/web`;
export const DEFAULT_WEB_DIR = `${REPO_ROOT}/build/web`;

export class WebBuildError extends UserError {
  override name = "WebBuildError";
}

/**
 * Builds the web app (entry `root`/index.html, by default web/index.html) with Vite into
 * `outDir` (relative paths are taken from the repository root) and returns the absolute
 * output directory. Vite is loaded only here, so serving never pays for it.
 */
export async function buildWeb(outDir = "build/web", root = WEB_SRC): Promise<string> {
  const out = outDir.startsWith("/") ? outDir : `${REPO_ROOT}/${outDir}`;
  const entry = await Deno.stat(`${root}/index.html`).catch(() => null);
  if (!entry?.isFile) {
    throw new WebBuildError(
      `cannot build the web app: ${root}/index.html does not exist (the web app's entry page is not written yet); ` +
        "run 'deno task lab --no-build' to serve the runs API without it",
    );
  }
  const { build } = await import("vite");
  try {
    // Workers as ES modules: the training worker imports the whole model, which splits into chunks.
    await build({ root, logLevel: "warn", build: { outDir: out, emptyOutDir: true, target: "es2022" }, worker: { format: "es" } });
  } catch (err) {
    throw new WebBuildError(`building the web app (vite, ${root}) failed: ${(err as Error)?.message ?? err}`);
  }
  return out;
}

/** The page "/" answers while there is no web build to serve. */
export function notBuiltPage(webDir: string | null): Response {
  const where = webDir ? `no build in <code>${escapeHtml(webDir)}</code>` : "no web directory was given";
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nanochat lab — web app not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#eee;padding:0 .25em}</style>
</head><body>
<h1>The lab's web app is not built</h1>
<p>The server is running (${where}), but there is no web app to show yet.</p>
<p>Build it and serve it with <code>deno task lab</code> (it builds <code>web/</code> into <code>build/web</code> first),
then reload this page.</p>
<p>The JSON API works without it: <a href="/api/runs">/api/runs</a>, <a href="/api/health">/api/health</a>.</p>
</body></html>
`;
  return new Response(html, { status: 200, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Answers GET/HEAD of a path outside /api/ from the web build in `webDir` (null: none).
 * Vite's hashed assets get a long cache lifetime, everything else is revalidated.
 */
export async function staticResponse(req: Request, webDir: string | null, segments: string[]): Promise<Response> {
  for (const s of segments) checkName(s, "path segment", ASSET_NAME);
  const root = webDir ? await realPathOrNull(webDir) : null;
  const indexExists = root ? (await Deno.stat(`${root}/index.html`).catch(() => null))?.isFile === true : false;
  const last = segments.at(-1) ?? "";
  const isRoute = segments.length === 0 || !last.includes(".");
  if (!root || !indexExists) {
    if (isRoute) return notBuiltPage(webDir);
    throw new HttpError(404, `${segments.join("/")} not found: the web app is not built (run 'deno task lab' to build it)`);
  }
  if (isRoute) {
    return fileResponse(req, await mustOpen(root, ["index.html"], "index.html"), "index.html", { "cache-control": "no-cache" });
  }
  const opened = await mustOpen(root, segments, `/${segments.join("/")}`, "the web build has no such file", ASSET_NAME);
  const immutable = segments[0] === "assets" && /-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(last);
  return fileResponse(req, opened, last, { "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache" });
}
