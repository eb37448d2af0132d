// The report card from hand-made runs: figures per stage, the final table (values from the
// right record of the right run), wall times, curves, the Markdown; and the SVG curve's
// geometry.
import assert from "node:assert/strict";
import { curveSvg } from "../../src/report/curve_svg.ts";
import { buildReport, formatSeconds, reportMarkdown, type StageInput } from "../../src/report/report.ts";

const info = (stage: string, started: string, updated: string) => ({ stage, status: "finished", config: { total_batch_size: 1024 }, started_at: started, updated_at: updated, adapter: "llvmpipe (software)" });
const train = (step: number, extra: Record<string, number>) => ({ type: "train", step, ...extra });
const chatEval = (step: number, correct: number) => ({ type: "eval_chat", step, scores: [{ task: "arithmetic", correct, total: 200, accuracy: correct / 200 }], chatcore: null });

const stages: StageInput[] = [
  {
    stage: "base", run: "p", wallSeconds: 299.6, info: info("base", "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"),
    records: [
      { type: "eval", step: 0, val_bpb: 3.25 },
      train(0, { loss: 8, loss_ema: 8, tok_per_sec: 999, mfu: 90 }),
      train(1, { loss: 6, loss_ema: 7, tok_per_sec: 100, mfu: 10 }),
      train(2, { loss: 5, loss_ema: 6, tok_per_sec: 300, mfu: 30 }),
      { type: "eval", step: 3, val_bpb: 2.5 },
      chatEval(3, 0),
    ],
  },
  {
    stage: "mid", run: "p-mid", wallSeconds: null, info: info("mid", "2026-01-01T00:05:00Z", "2026-01-01T00:25:30Z"),
    records: [train(0, { loss: 2 }), train(1, { loss: 1 }), chatEval(1, 90), chatEval(2, 130)],
  },
  {
    stage: "rl", run: "p-rl", wallSeconds: 60, info: info("rl", "2026-01-01T01:00:00Z", "2026-01-01T01:01:00Z"),
    records: [
      { type: "eval", step: 0, "pass@1": 0.5, "pass@4": 0.7 },
      ...[0.1, 0.2, 0.3, 0.4, 0.5, 0.6].map((reward, step) => train(step, { loss: 0, reward })),
      { type: "eval", step: 6, "pass@1": 0.55, "pass@4": 0.8 },
      chatEval(6, 140),
    ],
  },
];

Deno.test("report: figures, the final table and wall times come from the right records", () => {
  const { report, files } = buildReport({ name: "p", generatedAt: "now", environment: [["adapter", "x"]], tokenizer: null, stages, evalSeconds: 40 });
  assert.deepEqual(report.table.columns, ["BASE", "MID", "RL"]);
  const row = (m: string) => report.table.rows.find((r) => r.metric === m)?.values;
  assert.deepEqual(row("val bpb (base data)"), ["2.5000", "—", "—"]);
  assert.deepEqual(row("CORE"), ["—", "—", "—"]);
  // The latest chat evaluation of each run.
  assert.deepEqual(row("arithmetic"), ["0.0% (0/200)", "65.0% (130/200)", "70.0% (140/200)"]);
  assert.deepEqual(row("held-out pass@4 (sampled)"), ["—", "—", "80.0%"]);
  assert.ok(report.notes.some((n) => n.startsWith("CORE: not measured")));
  const fig = (i: number, k: string) => report.stages[i].figures.find(([label]) => label === k)?.[1];
  assert.equal(fig(0, "steps"), "3");
  assert.equal(fig(0, "tokens"), "3,072");
  assert.equal(fig(0, "val bpb"), "3.2500 → 2.5000");
  assert.equal(fig(0, "final loss (EMA)"), "6.0000");
  // Step 0 (compilation, warm-up) is left out of the means.
  assert.equal(fig(0, "tokens/s (mean)"), "200");
  assert.equal(fig(0, "MFU vs measured peak (mean)"), "20.0%");
  assert.equal(fig(0, "wall time"), "5m00s");
  assert.equal(fig(1, "wall time"), "20m30s", "no pipeline time: run.json's start and end");
  assert.equal(fig(2, "reward (first → last steps)"), "0.200 → 0.500");
  assert.equal(fig(2, "held-out pass@1"), "50.0% → 55.0%");
  assert.equal(report.total_wall_seconds, 299.6 + 1230 + 60 + 40);
  assert.deepEqual([...files.keys()], ["base_loss.svg", "mid_loss.svg", "rl_reward.svg"]);
  assert.deepEqual(report.stages.map((s) => s.curve), ["base_loss.svg", "mid_loss.svg", "rl_reward.svg"]);
  const md = reportMarkdown(report);
  assert.ok(md.includes("| metric | BASE | MID | RL |"));
  assert.ok(md.includes("| arithmetic | 0.0% (0/200) | 65.0% (130/200) | 70.0% (140/200) |"));
  assert.ok(md.includes("![rl curve](rl_reward.svg)"));
  assert.ok(md.includes("Total wall time: 27m10s."));
});

Deno.test("report: seconds are formatted after rounding; a stage with no time makes the total unknown", () => {
  assert.deepEqual([formatSeconds(59.6), formatSeconds(119.5), formatSeconds(0), formatSeconds(null)], ["1m00s", "2m00s", "0s", "—"]);
  const noTime = { ...stages[1], info: { ...stages[1].info, updated_at: "bad" } };
  assert.equal(buildReport({ name: "p", generatedAt: "", environment: [], tokenizer: null, stages: [noTime] }).report.total_wall_seconds, null);
});

Deno.test("curve svg: the first point at the left edge, the last at the right, the highest at the top; gaps dropped", () => {
  const svg = curveSvg([[0, 4], [1, NaN], [2, 2], [4, 1]], { title: "t <x>", yLabel: "loss", width: 200, height: 100 })!;
  // Plot area: x 56 … 188, y 26 … 66.
  const d = /<path d="([^"]+)"/.exec(svg)![1];
  assert.equal(d, "M56.0,26.0 L122.0,52.7 L188.0,66.0");
  assert.ok(svg.includes("<title>t &lt;x&gt;</title>"));
  assert.ok(!svg.includes("<script"));
  assert.equal(curveSvg([[0, 1]], { title: "", yLabel: "" }), null);
  assert.equal(curveSvg([[0, 1], [1, Infinity]], { title: "", yLabel: "" }), null);
});
