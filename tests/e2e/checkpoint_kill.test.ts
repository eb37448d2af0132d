// A real kill -9 during a checkpoint write. One tiny training (tests/e2e/tiny_run.ts,
// checkpoints every 2 steps) is SIGKILLed three times, each at another moment of a save,
// found by watching the checkpoint writer's own files appear:
//   A. its step_000004.tmp-* directory was just made (nothing written yet),
//   B. a file inside step_000006.tmp-* exists (the weights half written),
//   C. step_000008 just got its final name (renamed, not yet cleaned up or logged after).
// After each kill, --resume starts from the last complete checkpoint (and no other), the
// leftovers of the interrupted save are gone, and at the end metrics.jsonl holds one record
// per step and evaluation.
import assert from "node:assert/strict";
import { readMetrics } from "../../src/formats/metrics.ts";
import { ROOT, tinyTrainArgs } from "./tiny_run.ts";

const TMP = await Deno.makeTempDir({ prefix: "nanochat-ckpt-kill-" });
const RUN = "killed";
const ckpts = `${TMP}/runs/${RUN}/checkpoints`;
const ITERATIONS = ["--num-iterations", "10"];

function namesIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return []; // not made yet, or renamed away between the listing and now
  }
}

/** The highest step with a complete checkpoint (what --resume must pick), -1 for none. */
function lastComplete(): number {
  const steps = namesIn(ckpts).filter((n) => /^step_\d{6}$/.test(n))
    .filter((n) => namesIn(`${ckpts}/${n}`).includes("meta.json") && namesIn(`${ckpts}/${n}`).includes("model.safetensors"))
    .map((n) => Number(n.slice(5)));
  return Math.max(-1, ...steps);
}

/** Starts the training and SIGKILLs it the moment `moment()` sees its files in the wanted state. */
async function killWhen(extra: string[], what: string, moment: () => boolean): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: tinyTrainArgs(TMP, RUN, { checkpointEvery: 2, extra: [...ITERATIONS, ...extra] }), cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
  }).spawn();
  const out = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]).then(([o, e]) => o + e);
  const deadline = Date.now() + 120_000;
  let killed = false;
  const status = child.status.then((s) => s);
  let exited = false;
  status.then(() => exited = true);
  while (!exited && Date.now() < deadline) {
    if (moment()) {
      child.kill("SIGKILL");
      killed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const s = await status;
  const text = await out;
  assert.ok(killed, `${what}: the moment never came (exit ${s.code}):\n${text}`);
  assert.equal(s.signal, "SIGKILL", `${what}: ${text}`);
  return text;
}

const tmpOf = (step: number) => namesIn(ckpts).find((n) => n.startsWith(`step_${String(step).padStart(6, "0")}.tmp-`));
const leftovers = () => namesIn(ckpts).filter((n) => /\.(tmp|old|del)-/.test(n));

Deno.test({
  name: "checkpoint kill -9: killed as a save starts, mid-write and just after the rename, --resume continues from the last complete checkpoint with one metrics record per step",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    try {
      const moments: { what: string; extra: string[]; moment: () => boolean }[] = [
        { what: "A: step 4's tmp directory made", extra: [], moment: () => tmpOf(4) !== undefined },
        { what: "B: a file inside step 6's tmp directory", extra: ["--resume"], moment: () => namesIn(`${ckpts}/${tmpOf(6) ?? "none"}`).length > 0 },
        { what: "C: step 8 renamed into place", extra: ["--resume"], moment: () => namesIn(ckpts).includes("step_000008") },
      ];
      const interrupted: string[] = [];
      let resumedFrom: number | null = null;
      for (const m of moments) {
        const out = await killWhen(m.extra, m.what, m.moment);
        if (resumedFrom !== null) {
          assert.match(out, new RegExp(`resuming from ${ckpts}/step_${String(resumedFrom).padStart(6, "0")} \\(step ${resumedFrom}\\)`), m.what);
        }
        if (leftovers().length) interrupted.push(`${m.what}: ${leftovers().join(", ")}`);
        resumedFrom = lastComplete();
        assert.ok(resumedFrom >= 2, `${m.what}: a complete checkpoint survives (${namesIn(ckpts).join(", ")})`);
      }
      // At least one kill landed inside a save (its tmp directory was left behind): the
      // test killed a writer mid-checkpoint, not merely between saves.
      assert.ok(interrupted.length >= 1, "no kill landed inside a checkpoint write");

      const last = await new Deno.Command(Deno.execPath(), {
        args: tinyTrainArgs(TMP, RUN, { checkpointEvery: 2, extra: [...ITERATIONS, "--resume"] }), cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
      }).output();
      const out = new TextDecoder().decode(last.stdout) + new TextDecoder().decode(last.stderr);
      assert.equal(last.code, 0, out);
      assert.match(out, new RegExp(`resuming from ${ckpts}/step_${String(resumedFrom).padStart(6, "0")} \\(step ${resumedFrom}\\)`));
      assert.deepEqual(leftovers(), [], "the interrupted saves' directories are cleaned up");
      assert.equal(lastComplete(), 10);

      const recs = readMetrics(await Deno.readTextFile(`${TMP}/runs/${RUN}/metrics.jsonl`));
      assert.deepEqual(recs.filter((r) => r.type === "train").map((r) => r.step), Array.from({ length: 10 }, (_, i) => i), "one train record per step, in order");
      assert.deepEqual(recs.filter((r) => r.type === "eval").map((r) => r.step), [0, 4, 8, 10], "one eval record per evaluation");
      console.log(`kills inside a save: ${interrupted.join("; ")}`);
    } finally {
      await Deno.remove(TMP, { recursive: true });
    }
  },
});
