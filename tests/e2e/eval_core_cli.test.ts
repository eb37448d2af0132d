// `deno task eval base` runs CORE when the bundle is there: on a depth-1 checkpoint whose
// weights follow a known next-character rule (tests/fixtures/core/bigram.ts, byte-level
// tokenizer without merges) and the fixture bundle, it prints the known per-task answers
// and the CORE mean, and appends the `core` record the report's BASE column reads.
import assert from "node:assert/strict";
import { buildReport } from "../../src/report/report.ts";
import { readMetrics } from "../../src/formats/metrics.ts";
import { denoFiles } from "../../src/io/deno_files.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { saveTokenizer } from "../../src/tokenizer/store.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { saveCheckpoint } from "../../src/train/deno_checkpoint.ts";
import { bigramParams, EXPECTED, FIXTURE_DIR } from "../fixtures/core/bigram.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "eval base: CORE by default when the bundle is there — the known per-task answers, the mean, a `core` record the report shows under BASE",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "eval_core_cli_" });
    try {
      const tok = new Tokenizer([]); // bytes + specials: one token per ASCII character
      const cfg: GPTConfig = { sequence_len: 32, vocab_size: tok.vocabSize, n_layer: 1, n_head: 4, n_kv_head: 2, n_embd: 64 };
      const runDir = `${tmp}/runs/toy`;
      await saveTokenizer(denoFiles("."), `${runDir}/tokenizer`, tok);
      await saveCheckpoint(runDir, 7, {
        params: bigramParams(cfg, 5), cfg,
        meta: { user_config: {}, loader_state: null, rng_state: null, metrics: {}, tokenizer: { hash: tok.hash, vocab_size: tok.vocabSize }, stage: "base" },
      });
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "src/cli/eval.ts", "base", "--run", "toy", "--runs-dir", `${tmp}/runs`, "--bundle-dir", `${FIXTURE_DIR}/eval_bundle`, "--batch-size", "2"],
        cwd: ROOT, stdout: "piped", stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr + stdout);
      const centred = Object.values(EXPECTED).map((e) => (e.correct / e.total - e.baseline / 100) / (1 - e.baseline / 100));
      const core = centred.reduce((a, b) => a + b, 0) / centred.length;
      for (const [label, e] of Object.entries(EXPECTED)) assert.match(stdout, new RegExp(`\\| ${label} \\| \\w+ \\| \\d \\| [\\d.]+% \\(${e.correct}/${e.total}\\) \\|`));
      assert.match(stdout, new RegExp(`CORE: ${core.toFixed(4)}`));

      const records = readMetrics(await Deno.readTextFile(`${runDir}/metrics.jsonl`));
      const rec = records.find((r) => r.type === "core")!;
      assert.equal(rec.step, 7);
      assert.ok(Math.abs((rec.core as number) - core) < 1e-12);
      assert.deepEqual((rec.tasks as { label: string; correct: number }[]).map((t) => [t.label, t.correct]), Object.entries(EXPECTED).map(([l, e]) => [l, e.correct]));
      assert.ok(await Deno.stat(`${runDir}/eval/core_step_000007.json`).then(() => true, () => false));
      const { report } = buildReport({
        name: "p", generatedAt: "now", environment: [], tokenizer: null, stages: [{ stage: "base", run: "toy", info: {}, records, wallSeconds: 1 }],
      });
      assert.deepEqual(report.table.rows.find((r) => r.metric === "CORE")?.values, [core.toFixed(4)]);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
