// `deno task archive`: a finished pipeline's runs leave runs/ for archive/LABEL/ in one
// rename each, archive.json says what moved, the lab lists them as LABEL~RUN (and serves
// their files), and a running run, an existing label or a hostile archived name is refused.
import assert from "node:assert/strict";
import { ARCHIVE_FILE } from "../../src/cli/archive.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { startLabServer } from "../../src/server/server.ts";
import { saveCheckpoint } from "../../src/train/deno_checkpoint.ts";
import { MetricsLog, writeRunInfo } from "../../src/train/deno_metrics.ts";

const CFG: GPTConfig = { sequence_len: 16, vocab_size: 40, n_layer: 1, n_head: 2, n_kv_head: 1, n_embd: 8 };
const ROOT = new URL("../../", import.meta.url).pathname;
const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

async function makeRun(runsDir: string, name: string, stage: string, status: "finished" | "running") {
  const dir = `${runsDir}/${name}`;
  await writeRunInfo(dir, { name, stage, config: { run: name }, adapter: "test", started_at: "2026-12-01T10:00:00.000Z", status, step: 2 });
  const log = await MetricsLog.open(dir);
  for (let s = 0; s < 3; s++) await log.append({ type: "train", step: s, loss: 3 - s, time: 1e9 + s });
  log.close();
  const params = new Map(paramShapes(CFG).map(({ name, shape }) => [name, new Float32Array(shape[0] * shape[1]).fill(0.5)]));
  await saveCheckpoint(dir, 2, { params, cfg: CFG, meta: { user_config: {}, val_bpb: 2, loader_state: null, rng_state: null, metrics: {}, tokenizer: null } });
}

async function archive(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", `${ROOT}src/cli/archive.ts`, ...args], stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test({
  name: "archive: a pipeline's runs move to archive/LABEL with archive.json; the lab lists and serves them as LABEL~RUN; refusals move nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "archive_test_" });
    const runsDir = `${root}/runs`, archiveDir = `${root}/archive`;
    await makeRun(runsDir, "p", "base", "finished");
    await makeRun(runsDir, "p-mid", "mid", "finished");
    await makeRun(runsDir, "p-sft", "sft", "running"); // no owner lock: interrupted
    await makeRun(runsDir, "other", "base", "finished");
    await Deno.mkdir(`${runsDir}/p/report`, { recursive: true });
    await Deno.writeTextFile(`${runsDir}/p/report/report.md`, "# report\n");
    const flags = ["--runs-dir", runsDir, "--archive-dir", archiveDir];

    // An interrupted stage is refused, naming it, and nothing moves.
    let r = await archive(["p", ...flags, "--as", "a1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.text, /p-sft was interrupted/);
    assert.ok(await exists(`${runsDir}/p`) && !(await exists(`${archiveDir}/a1/p`)), "a refused archive moved a run");

    await writeRunInfo(`${runsDir}/p-sft`, { name: "p-sft", stage: "sft", config: {}, adapter: "test", started_at: "2026-12-01T11:00:00.000Z", status: "finished", step: 2 });
    r = await archive(["p", ...flags, "--as", "a1"]);
    assert.equal(r.code, 0, r.text);
    for (const run of ["p", "p-mid", "p-sft"]) {
      assert.ok(!(await exists(`${runsDir}/${run}`)), `${run} is still in runs/`);
      assert.ok(await exists(`${archiveDir}/a1/${run}/checkpoints/step_000002/model.safetensors`), `${run}'s checkpoint did not move`);
    }
    assert.ok(await exists(`${runsDir}/other`), "a run of another pipeline moved");
    const manifest = JSON.parse(await Deno.readTextFile(`${archiveDir}/a1/${ARCHIVE_FILE}`));
    assert.deepEqual(manifest.runs, ["p", "p-mid", "p-sft"]);
    assert.equal(manifest.checkpoints, true);

    // The same label again is refused (never merged); --no-checkpoints keeps metrics and drops checkpoints.
    await makeRun(runsDir, "q", "base", "finished");
    await Deno.mkdir(`${archiveDir}/taken`, { recursive: true });
    r = await archive(["q", ...flags, "--as", "taken"]);
    assert.notEqual(r.code, 0);
    assert.match(r.text, /already exists/);
    r = await archive(["q", ...flags, "--no-checkpoints"]);
    assert.equal(r.code, 0, r.text);
    assert.ok(await exists(`${archiveDir}/q-20261201/q/metrics.jsonl`), "default label is RUN-YYYYMMDD of the base run's start");
    assert.ok(!(await exists(`${archiveDir}/q-20261201/q/checkpoints`)), "--no-checkpoints kept the checkpoints");

    const server = await startLabServer({ runsDir, archiveDir, port: 0 });
    try {
      const get = (path: string) => fetch(new URL(path, server.url));
      const runs = (await (await get("/api/runs")).json()).runs as { name: string; status: string; checkpoints: number[] }[];
      const names = runs.map((x) => x.name).sort();
      assert.deepEqual(names, ["a1~p", "a1~p-mid", "a1~p-sft", "other", "q-20261201~q"]);
      assert.deepEqual(runs.find((x) => x.name === "a1~p-mid")!.checkpoints, [2]);
      const ck = await get("/api/runs/a1~p-mid/checkpoints/2/meta.json");
      assert.equal(ck.status, 200);
      assert.equal((await ck.json()).step, 2);
      const metrics = await (await get("/api/runs/a1~p/metrics")).text();
      assert.match(metrics, /"step":2/);
      for (const bad of ["/api/runs/a1~p~x", "/api/runs/a1~..", "/api/runs/~p", "/api/runs/nope~p"]) {
        const res = await get(bad);
        await res.body?.cancel();
        assert.ok(res.status === 400 || res.status === 404, `${bad} answered ${res.status}`);
      }
    } finally {
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});
