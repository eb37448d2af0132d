// Data-parallel training (src/dist/) through `deno task train base --world N`, on this
// machine's software adapters: two ranks on one adapter give exactly the parameters of one
// rank accumulating twice as many micro-batches; a rank on lavapipe and one on SwiftShader
// (Chromium's Vulkan driver) match it to float32 noise, each rank's adapter recorded;
// checkpoints move between world sizes; a killed rank ends the run promptly, naming it.
import assert from "node:assert/strict";
import { loadCheckpoint } from "../../src/train/deno_checkpoint.ts";
import { readMetrics } from "../../src/formats/metrics.ts";
import { parsePlacements, SWIFTSHADER_ICDS } from "../../src/dist/deno_world.ts";
import { shareOf } from "../../src/dist/step.ts";
import { ROOT, tinyTrainArgs, trainTiny } from "./tiny_run.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
// One micro-batch of 2×32 per rank at world 2 (total 128 tokens); world 1 accumulates two.
const EXTRA = ["--eval-tokens", "128", "--num-iterations", "4"];

const ckpt = (tmp: string, run: string, step: number) => `${tmp}/runs/${run}/checkpoints/step_${String(step).padStart(6, "0")}`;

async function params(dir: string): Promise<Map<string, Float32Array>> {
  return (await loadCheckpoint(dir)).params;
}

/** Per tensor ‖a − b‖ / ‖a‖ (0 for bitwise equal tensors). */
async function relDiff(a: string, b: string): Promise<Map<string, number>> {
  const [pa, pb] = [await params(a), await params(b)];
  const out = new Map<string, number>();
  for (const [name, x] of pa) {
    const y = pb.get(name)!;
    let d = 0, s = 0;
    for (let i = 0; i < x.length; i++) d += (x[i] - y[i]) ** 2, s += x[i] ** 2;
    out.set(name, s > 0 ? Math.sqrt(d / s) : Math.sqrt(d));
  }
  return out;
}

const trainLosses = async (tmp: string, run: string) =>
  readMetrics(await Deno.readTextFile(`${tmp}/runs/${run}/metrics.jsonl`)).filter((r) => r.type === "train").map((r) => r.loss as number);

Deno.test("dist: --adapters places each rank; the shares of a step are contiguous and disjoint", () => {
  assert.deepEqual(parsePlacements("", 2).map((p) => p.spec), ["default", "default"]);
  assert.deepEqual(parsePlacements("10005:0", 3).map((p) => p.env), [1, 2, 3].map(() => ({ MESA_VK_DEVICE_SELECT: "10005:0" })));
  assert.deepEqual(parsePlacements("default,icd:/x.json", 2)[1].env, { VK_ICD_FILENAMES: "/x.json" });
  assert.throws(() => parsePlacements("default,default,default", 2), /names 3 adapters for --world 2/);
  assert.throws(() => parsePlacements("gpu0", 1), /'gpu0' \(rank 0\) is not an adapter/);
  assert.deepEqual([0, 1, 2].map((r) => shareOf(6, 3, r)), [[0, 2], [2, 4], [4, 6]]);
  assert.throws(() => shareOf(5, 2, 0), /do not split evenly/);
});

Deno.test({
  name: "dist: world 2 on one adapter equals world 1 with twice the accumulation, bit for bit; checkpoints resume across world sizes",
  ...opts,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "nanochat-dist-" });
    try {
      await trainTiny(tmp, "w1", { extra: EXTRA });
      const out = await trainTiny(tmp, "w2", { extra: [...EXTRA, "--world", "2"] });
      assert.match(out, /rank 1: llvmpipe|rank 1: .* \(pid \d+\)/);
      for (const step of [2, 4]) {
        for (const [name, d] of await relDiff(ckpt(tmp, "w1", step), ckpt(tmp, "w2", step))) assert.equal(d, 0, `step ${step}: ${name} differs by ${d}`);
      }
      assert.deepEqual(await trainLosses(tmp, "w2"), await trainLosses(tmp, "w1"));
      const info = JSON.parse(await Deno.readTextFile(`${tmp}/runs/w2/run.json`));
      assert.equal(info.adapters.length, 2);
      assert.match(info.adapter, /^rank 0: .*; rank 1: /);
      const world = readMetrics(await Deno.readTextFile(`${tmp}/runs/w2/metrics.jsonl`)).find((r) => r.type === "world");
      assert.deepEqual(world?.adapters, info.adapters);

      // The world-2 run from its step-2 checkpoint, at world 1; the world-1 run from its step 2, at world 2: both end on w1's step 4.
      for (const [run, world] of [["w2", "1"], ["w1", "2"]]) {
        await Deno.remove(ckpt(tmp, run, 4), { recursive: true });
        const resumed = await trainTiny(tmp, run, { extra: [...EXTRA, "--world", world, "--resume"] });
        assert.match(resumed, /resuming from .*step_000002/);
      }
      const w1Again = await relDiff(ckpt(tmp, "w1", 4), ckpt(tmp, "w2", 4));
      for (const [name, d] of w1Again) assert.equal(d, 0, `after the resumes: ${name} differs by ${d}`);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "dist: a rank on lavapipe and one on SwiftShader match world 1 to float32 noise, each rank's adapter named",
  ...opts,
  fn: async () => {
    const present = (p: string) => Deno.stat(p).then(() => true, () => false);
    assert.ok((await Promise.all(SWIFTSHADER_ICDS.map(present))).some(Boolean), `Chromium's SwiftShader Vulkan driver is needed (${SWIFTSHADER_ICDS.join(", ")}): apt-get install chromium`);
    const tmp = await Deno.makeTempDir({ prefix: "nanochat-dist-" });
    try {
      await trainTiny(tmp, "w1", { extra: EXTRA });
      const out = await trainTiny(tmp, "mixed", { extra: [...EXTRA, "--world", "2", "--adapters", "default,swiftshader"] });
      assert.match(out, /rank 1: SwiftShader Device .*--adapters swiftshader/);
      const info = JSON.parse(await Deno.readTextFile(`${tmp}/runs/mixed/run.json`));
      assert.match(info.adapters[0], /llvmpipe/);
      assert.match(info.adapters[1], /SwiftShader/);
      let differs = false;
      for (const [name, d] of await relDiff(ckpt(tmp, "w1", 4), ckpt(tmp, "mixed", 4))) {
        assert.ok(d < 1e-5, `${name}: relative difference ${d}`);
        if (d > 0) differs = true;
      }
      assert.ok(differs, "two adapters round differently somewhere; identical weights would mean rank 1 did not run on SwiftShader");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "dist: killing a rank mid-run ends the run within seconds, naming the rank; the last checkpoint is kept",
  ...opts,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "nanochat-dist-" });
    try {
      await trainTiny(tmp, "prep", { extra: ["--num-iterations", "1"] }); // data and tokenizer
      const child = new Deno.Command(Deno.execPath(), {
        args: tinyTrainArgs(tmp, "victim", { extra: ["--eval-tokens", "128", "--num-iterations", "400", "--world", "2", "--no-prepare"] }),
        cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
      }).spawn();
      let out = "";
      const reader = (async () => {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
      })();
      const err = (async () => {
        let e = "";
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) e += chunk;
        return e;
      })();
      const t0 = Date.now();
      while (!/checkpoint: .*step_000002/.test(out) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
      const pid = Number(/rank 1: .*\(pid (\d+)/.exec(out)?.[1]);
      assert.ok(pid > 0, `no rank 1 pid in:\n${out}`);
      Deno.kill(pid, "SIGKILL");
      const killedAt = Date.now();
      const status = await child.status;
      const seconds = (Date.now() - killedAt) / 1000;
      await reader;
      const stderr = await err;
      assert.notEqual(status.code, 0);
      assert.ok(seconds < 15, `the run took ${seconds} s to end after rank 1 died`);
      assert.match(stderr, new RegExp(`rank 1 \\(.*pid ${pid}\\) was killed \\(SIGKILL\\)`));
      const info = JSON.parse(await Deno.readTextFile(`${tmp}/runs/victim/run.json`));
      assert.equal(info.status, "failed");
      assert.match(info.error, /rank 1/);
      await loadCheckpoint(ckpt(tmp, "victim", 2)); // kept, whole
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "dist: a dual_gpu preset trains with two ranks (its world_size), shrunk to this machine",
  ...opts,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "nanochat-dist-" });
    try {
      // Only the preset's world size and its d20 horizon fields matter here; the model is the tiny test one.
      const out = await trainTiny(tmp, "dual", { extra: [...EXTRA, "--config", "dual_gpu/tight_16gb"] });
      assert.match(out, /2 ranks × 1 micro-batch of 2×32/);
      const info = JSON.parse(await Deno.readTextFile(`${tmp}/runs/dual/run.json`));
      assert.equal(info.config.world_size, 2);
      assert.equal(info.preset, "dual_gpu/tight_16gb");
      assert.equal(info.adapters.length, 2);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
