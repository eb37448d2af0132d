// Fault injection on real tiny trainings (tests/e2e/tiny_run.ts): a kill -9 in the middle
// of the steps after a checkpoint, then --resume, leaves one metrics record per step; the
// lab shows the killed run as interrupted; a resume past a checkpoint whose meta.json is
// gone says which one it skipped and which it used; a second training on a run that is being
// trained is refused naming the holder (and touches nothing); a training that fails before
// its first step (a broken shard) leaves no run directory behind.
import assert from "node:assert/strict";
import { readMetrics } from "../../src/formats/metrics.ts";
import { Runs } from "../../src/server/runs.ts";
import { ROOT, tinyTrainArgs, trainTiny } from "./tiny_run.ts";

const TMP = await Deno.makeTempDir({ prefix: "nanochat-owner-" });
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const runDir = (run: string) => `${TMP}/runs/${run}`;

async function records(run: string) {
  return readMetrics(await Deno.readTextFile(`${runDir(run)}/metrics.jsonl`).catch(() => ""));
}

async function latestCkpt(run: string): Promise<number> {
  const steps: number[] = [];
  for await (const e of Deno.readDir(`${runDir(run)}/checkpoints`)) {
    const m = /^step_(\d{6})$/.exec(e.name);
    if (m && await exists(`${runDir(run)}/checkpoints/${e.name}/meta.json`)) steps.push(Number(m[1]));
  }
  return Math.max(-1, ...steps);
}

const spawnTrain = (run: string, extra: string[], checkpointEvery = 2) =>
  new Deno.Command(Deno.execPath(), { args: tinyTrainArgs(TMP, run, { extra, checkpointEvery }), cwd: ROOT, stdout: "piped", stderr: "piped" }).spawn();

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 180_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test({
  name: "run ownership: kill -9 during a step, lab shows interrupted, --resume gives one metrics record per step",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await trainTiny(TMP, "prep"); // prepares data + tokenizer for the tests below
    assert.equal(await exists(`${runDir("prep")}/owner.lock`), false, "a finished training releases its run");

    const extra = ["--num-iterations", "12"];
    const child = spawnTrain("killed", extra, 4);
    // Kill it once it has logged steps past its latest checkpoint (mid-way between two).
    let killedAt = { ckpt: -1, step: -1 };
    await waitFor("steps past a checkpoint", async () => {
      if (!(await exists(`${runDir("killed")}/checkpoints`))) return false;
      const ckpt = await latestCkpt("killed");
      const step = Math.max(-1, ...(await records("killed")).filter((r) => r.type === "train").map((r) => r.step as number));
      killedAt = { ckpt, step };
      return ckpt >= 4 && step >= ckpt;
    });
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    assert.ok(killedAt.step >= killedAt.ckpt, JSON.stringify(killedAt));

    const info = JSON.parse(await Deno.readTextFile(`${runDir("killed")}/run.json`));
    assert.equal(info.status, "running", "a killed run cannot mark itself");
    const lab = (await new Runs(`${TMP}/runs`).summary("killed")).summary;
    assert.equal(lab.status, "interrupted", "the lab sees that no live process holds the run");

    const out = await trainTiny(TMP, "killed", { checkpointEvery: 4, extra: [...extra, "--resume"] });
    assert.match(out, /taking over the lock of pid \d+ .*which no longer runs/);
    assert.match(out, /metrics\.jsonl: dropped \d+ records? of steps ≥ \d+/);
    const recs = await records("killed");
    const trainSteps = recs.filter((r) => r.type === "train").map((r) => r.step as number);
    assert.deepEqual(trainSteps, Array.from({ length: 12 }, (_, i) => i), "one train record per step, in order");
    assert.deepEqual(recs.filter((r) => r.type === "eval").map((r) => r.step), [0, 4, 8, 12], "one eval record per evaluation");
    assert.equal((await new Runs(`${TMP}/runs`).summary("killed")).summary.status, "finished");

    // The latest checkpoint's meta.json lost: --resume names the skipped one and the one used.
    const latest = await latestCkpt("killed");
    await Deno.remove(`${runDir("killed")}/checkpoints/step_${String(latest).padStart(6, "0")}/meta.json`);
    const used = await latestCkpt("killed");
    const again = await trainTiny(TMP, "killed", { checkpointEvery: 4, extra: [...extra, "--resume"] });
    assert.match(again, new RegExp(`--resume: skipping .*step_${String(latest).padStart(6, "0")}: meta\\.json is missing; using the latest complete checkpoint, .*step_${String(used).padStart(6, "0")} \\(step ${used}\\)`));
    const steps = (await records("killed")).filter((r) => r.type === "train").map((r) => r.step as number);
    assert.deepEqual(steps, Array.from({ length: 12 }, (_, i) => i), "still one train record per step");
  },
});

Deno.test({
  name: "run ownership: a second training on a run being trained is refused naming the holder, and leaves the run alone",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const first = spawnTrain("busy", ["--num-iterations", "400", "--eval-every", "-1"]);
    await waitFor("the first training's step-2 checkpoint", () => exists(`${runDir("busy")}/checkpoints/step_000002/meta.json`));
    const second = await new Deno.Command(Deno.execPath(), {
      args: tinyTrainArgs(TMP, "busy", { extra: ["--num-iterations", "400", "--resume", "--no-prepare"] }), cwd: ROOT, stdout: "piped", stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(second.stderr);
    assert.equal(second.code, 1, err);
    assert.match(err, new RegExp(`error: run 'busy' \\(.*busy\\) is in use by pid ${first.pid} on \\S+ \\(since \\d{4}-.*\\): wait for that training to end, or stop it`));
    assert.doesNotMatch(err, /\n\s+at /);
    assert.equal((await new Runs(`${TMP}/runs`).summary("busy")).summary.status, "running", "the first one still owns it");
    first.kill("SIGINT");
    const res = await first.output();
    assert.equal(res.code, 0, new TextDecoder().decode(res.stderr));
    const steps = (await records("busy")).filter((r) => r.type === "train").map((r) => r.step as number);
    assert.deepEqual(steps, [...new Set(steps)].sort((a, b) => a - b), "no interleaved second writer");
  },
});

Deno.test({
  name: "failed start: a training whose shard is broken fails before its first step and leaves no run directory",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bad = `${TMP}/bad-data`;
    await Deno.mkdir(bad);
    for await (const e of Deno.readDir(`${TMP}/data`)) await Deno.copyFile(`${TMP}/data/${e.name}`, `${bad}/${e.name}`);
    const shard = `${bad}/shard_00000.parquet`;
    const bytes = await Deno.readFile(shard);
    bytes[Math.floor(bytes.length / 2)] ^= 0x40; // one flipped bit in the middle of a data page
    await Deno.writeFile(shard, bytes);
    const r = await new Deno.Command(Deno.execPath(), {
      args: tinyTrainArgs(TMP, "broken", { extra: ["--data-dir", bad, "--no-prepare"] }), cwd: ROOT, stdout: "piped", stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 1, err);
    assert.match(err, /shard_00000\.parquet.*SHA-256.*deno task data prepare/);
    assert.equal(await exists(runDir("broken")), false, "no half-made run directory");
    await Deno.remove(TMP, { recursive: true });
  },
});
