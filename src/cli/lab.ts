// `deno task lab [--port P] [--host H] [--runs-dir DIR] [--data-dir DIR] [--web-dir DIR] [--no-build]`
// Builds the web app (web/ → build/web, with Vite) and serves it together with the runs
// API (docs/lab.md) on http://127.0.0.1:8787/. Ctrl-C stops it.
import { resolveDataDir } from "../data/deno_shards.ts";
import { DEFAULT_HOST, DEFAULT_PORT, startLabServer } from "../server/server.ts";
import { buildWeb, DEFAULT_WEB_DIR } from "../server/static.ts";
import { type FlagTable, parseFlags, runMain, UsageError } from "./args.ts";

const FLAGS = {
  port: { type: "number", default: DEFAULT_PORT, help: "port to listen on (0: any free port)", min: 0, max: 65535, integer: true },
  host: { type: "string", default: DEFAULT_HOST, help: "interface to listen on (0.0.0.0 serves other machines too: the runs become readable by anyone who can reach it)" },
  "runs-dir": { type: "string", default: "runs", help: "directory holding the runs (runs/<run>/metrics.jsonl, run.json, checkpoints/)" },
  "archive-dir": { type: "string", default: "archive", help: "archived pipelines (deno task archive), listed as LABEL~RUN beside the runs" },
  "data-dir": { type: "string", default: "", help: "the shards in-tab training reads (default: $NANOCHAT_DATA_DIR or data/base_data, as 'train base')" },
  "tokenizer-dir": { type: "string", default: "data/tokenizer", help: "the tokenizer in-tab training uses" },
  "web-dir": { type: "string", default: "build/web", help: "where the web app is built and served from (the default is the repository's build/web)" },
  "no-build": { type: "boolean", default: false, help: "serve the existing web build (or none) instead of building web/ first" },
} satisfies FlagTable;

const SUMMARY = "Serves the lab: the web app (built from web/ first) and a read-only JSON API over the runs directory (docs/lab.md).";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
const absolute = (path: string, base: string) => (path.startsWith("/") ? path : `${base}/${path}`);

runMain(async (args) => {
  const parsed = parseFlags(args, "lab", SUMMARY, FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'; run 'deno task lab --help' for the flags`);
  if (!Number.isInteger(f.port) || f.port < 0 || f.port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${f.port}`);
  if (!f.host) throw new UsageError("--host must not be empty (e.g. 127.0.0.1, or 0.0.0.0 for every interface)");
  const runsDir = absolute(f["runs-dir"], Deno.cwd());
  let webDir = args.some((a) => a === "--web-dir" || a.startsWith("--web-dir=")) ? absolute(f["web-dir"], Deno.cwd()) : DEFAULT_WEB_DIR;

  if (!f["no-build"]) {
    const t0 = performance.now();
    console.log(`building the web app (web/ → ${webDir}) …`);
    webDir = await buildWeb(webDir);
    console.log(`built the web app in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } else if (!(await exists(`${webDir}/index.html`))) {
    console.log(`note: no web build in ${webDir}; "/" will say how to build it ('deno task lab' without --no-build)`);
  }
  if (!(await exists(runsDir))) console.log(`note: ${runsDir} does not exist yet; runs appear once 'deno task train base' writes them`);

  let server;
  try {
    server = await startLabServer({
      runsDir, dataDir: resolveDataDir(f["data-dir"] ? absolute(f["data-dir"], Deno.cwd()) : ""), tokenizerDir: absolute(f["tokenizer-dir"], Deno.cwd()), archiveDir: absolute(f["archive-dir"], Deno.cwd()), webDir, hostname: f.host, port: f.port, log: (line) => console.error(line) });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${f.port} on ${f.host} is already in use (another lab server?); choose another with --port ${f.port === 65535 ? 8788 : f.port + 1}, or --port 0 for any free port`);
    }
    if (err instanceof Deno.errors.PermissionDenied) throw new UsageError(`not allowed to listen on ${f.host}:${f.port}; ports below 1024 need privileges: choose another with --port`);
    if (err instanceof Deno.errors.AddrNotAvailable) throw new UsageError(`cannot listen on --host ${f.host}: no such address on this machine (try 127.0.0.1 or 0.0.0.0)`);
    throw err;
  }
  console.log(`lab server: ${server.url}  (runs: ${runsDir})`);
  if (f.host === "0.0.0.0" || f.host === "::") console.log(`listening on every interface (${f.host}): anyone who can reach port ${server.port} can read the runs`);
  console.log("Ctrl-C stops it");

  let stopping = false;
  const stop = async () => {
    if (stopping) Deno.exit(130); // a second Ctrl-C: do not wait for downloads to finish
    stopping = true;
    console.log("\nstopping the lab server (Ctrl-C again to quit at once)");
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
});
