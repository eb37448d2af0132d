// `deno task bench tab`: what training in the lab's Train tab reaches against `deno task
// train base`: the same preset and steps, once as a Deno child on Deno's adapter, once in
// headless Chromium's page (its worker, on Chromium's adapter: SwiftShader without a GPU),
// both on the repository's shards and tokenizer. Prints each side's adapter and median
// training tokens/s (steps ≥ 1: step 0 compiles the pipelines) and the ratio page / Deno.
import { chromium } from "playwright-core";
import { listShardFiles, resolveDataDir } from "../../data/deno_shards.ts";
import { readMetrics } from "../../formats/metrics.ts";
import { readZipDirectory, readZipEntry, bytesSource } from "../../formats/zip.ts";
import { startLabServer } from "../../server/server.ts";
import { buildWeb } from "../../server/static.ts";
import { parseFlags, UsageError } from "../args.ts";
import { CHROMIUM_ARGS, findChromium } from "../chromium_path.ts";
import { median } from "./compare.ts";
import { markdownTable } from "./matmul.ts";

const FLAGS = {
  preset: { type: "string", default: "tiny", help: "the base preset both sides train (the Train tab offers tiny, d12, d20)" },
  steps: { type: "number", default: 8, help: "training steps on each side", min: 2, integer: true },
  settings: { type: "string", default: "", help: "more run config fields for both sides, as the tab takes them: 'field=value …'" },
  "data-dir": { type: "string", default: "", help: "shards (default: $NANOCHAT_DATA_DIR or data/base_data)" },
  "tokenizer-dir": { type: "string", default: "data/tokenizer", help: "the tokenizer" },
} as const;

const ROOT = new URL("../../../", import.meta.url).pathname;

const rates = (jsonl: string) =>
  readMetrics(jsonl).filter((r) => r.type === "train" && (r.step as number) >= 1 && typeof r.tok_per_sec === "number").map((r) => r.tok_per_sec as number);

async function denoSide(tmp: string, f: { preset: string; steps: number; settings: string; dataDir: string; tokDir: string }): Promise<{ adapter: string; rates: number[] }> {
  const extra = f.settings.split(/[\s,]+/).filter(Boolean).flatMap((kv) => {
    const [k, v] = kv.split("=");
    return [`--${k.replaceAll("_", "-")}`, v];
  });
  const args = [
    "run", "-A", "src/cli/train.ts", "base", "--config", f.preset, "--run", "bench-deno", "--runs-dir", `${tmp}/runs`,
    "--data-dir", f.dataDir, "--tokenizer-dir", f.tokDir, "--no-prepare", "--eval-every", "-1", "--sample-every", "-1", "--checkpoint-every", "-1",
    ...extra, "--num-iterations", String(f.steps),
  ];
  const r = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
  if (r.code !== 0) throw new UsageError(`the Deno side failed:\n${new TextDecoder().decode(r.stdout)}${new TextDecoder().decode(r.stderr)}`);
  const info = JSON.parse(await Deno.readTextFile(`${tmp}/runs/bench-deno/run.json`));
  return { adapter: info.adapter, rates: rates(await Deno.readTextFile(`${tmp}/runs/bench-deno/metrics.jsonl`)) };
}

async function pageSide(tmp: string, f: { preset: string; steps: number; settings: string; dataDir: string; tokDir: string }): Promise<{ adapter: string; rates: number[] }> {
  const exe = findChromium();
  if (!exe) throw new UsageError("Chromium is needed (sudo apt-get install -y chromium, or set CHROMIUM_PATH)");
  const webDir = await buildWeb(`${tmp}/web`);
  const server = await startLabServer({ runsDir: `${tmp}/runs`, webDir, port: 0, dataDir: f.dataDir, tokenizerDir: f.tokDir });
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    await page.goto(`${server.url}#train`);
    await page.selectOption("[data-testid=train-preset]", f.preset);
    await page.fill("[data-testid=train-run]", "bench-tab");
    await page.fill("[data-testid=train-steps]", String(f.steps));
    await page.fill("[data-testid=train-settings]", `eval_every=-1 sample_every=-1 checkpoint_every=-1 ${f.settings}`);
    await page.click("[data-testid=train-start]");
    const done = await page.waitForFunction(() => {
      const err = document.querySelector("[data-testid=train-error]")?.textContent;
      if (err) return `error: ${err}`;
      return document.querySelector("[data-testid=train-run-bench-tab]")?.getAttribute("data-status") === "finished" ? "ok" : false;
    }, undefined, { timeout: 0, polling: 500 });
    const outcome = await done.jsonValue();
    if (outcome !== "ok") throw new UsageError(`the page's training failed: ${outcome}`);
    const [d] = await Promise.all([page.waitForEvent("download"), page.click("[data-testid=train-download-bench-tab]")]);
    const zip = bytesSource(await Deno.readFile((await d.path())!));
    const entries = await readZipDirectory(zip);
    const text = async (name: string) => new TextDecoder().decode(await readZipEntry(zip, entries.find((e) => e.name === `bench-tab/${name}`)!));
    return { adapter: JSON.parse(await text("run.json")).adapter, rates: rates(await text("metrics.jsonl")) };
  } finally {
    await browser.close().catch(() => {});
    await server.close();
  }
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench tab", "Training tokens/s in the lab's Train tab (Chromium's adapter) vs deno task train base (Deno's).", FLAGS);
  if (!parsed) return;
  const fl = parsed.flags;
  const f = { preset: fl.preset, steps: fl.steps, settings: fl.settings, dataDir: resolveDataDir(fl["data-dir"]), tokDir: fl["tokenizer-dir"].startsWith("/") ? fl["tokenizer-dir"] : `${ROOT}${fl["tokenizer-dir"]}` };
  if ((await listShardFiles(f.dataDir)).length < 2) throw new UsageError(`no shards in ${f.dataDir}: run 'deno task data prepare' first`);
  const tmp = await Deno.makeTempDir({ prefix: "nanochat-bench-tab-" });
  try {
    console.log(`preset ${f.preset}, ${f.steps} steps on each side${f.settings ? `, ${f.settings}` : ""}`);
    const deno = await denoSide(tmp, f);
    console.log(`deno: ${deno.adapter}: median ${median(deno.rates).toFixed(0)} tok/s`);
    const page = await pageSide(tmp, f);
    console.log(`page: ${page.adapter}: median ${median(page.rates).toFixed(0)} tok/s\n`);
    const row = (where: string, s: { adapter: string; rates: number[] }) =>
      [where, s.adapter, String(s.rates.length), median(s.rates).toFixed(0), `${Math.min(...s.rates).toFixed(0)}–${Math.max(...s.rates).toFixed(0)}`];
    console.log(markdownTable(["where", "adapter", "steps timed", "tok/s (median)", "range"], [row("deno task train base", deno), row("lab Train tab (worker)", page)]));
    console.log(`\npage / deno: ${(median(page.rates) / median(deno.rates)).toFixed(2)}×`);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
