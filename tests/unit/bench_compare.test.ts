// `deno task bench NAME --baseline REV`: reading a benchmark's closing table and the
// comparison it prints (medians, spread, ratio, speed-up by the column's sense).
import assert from "node:assert/strict";
import { cellNumber, columnSense, compareTables, lastMarkdownTable, median, splitCompareArgs, spreadPct } from "../../src/cli/bench/compare.ts";
import { kindOf } from "../../src/cli/bench/step.ts";

const OUTPUT = `adapter: llvmpipe
| a | b |
|---|---|
| 1 | 2 |

shape: 256³  tiled GFLOP/s: 0.46
| shape | tiled GFLOP/s | tiled ms | dispatches |
|---|---|---|---|
| 256³ | 0.46 | 72.63 | 1 |
| x·Wᵀ 256×512×128 | 1,234.5 | 41.09 | 3 |
(timed with timestamp-query)
`;

Deno.test("bench compare: the last markdown table of the output, cells trimmed", () => {
  const t = lastMarkdownTable(OUTPUT)!;
  assert.deepEqual(t.header, ["shape", "tiled GFLOP/s", "tiled ms", "dispatches"]);
  assert.deepEqual(t.rows, [["256³", "0.46", "72.63", "1"], ["x·Wᵀ 256×512×128", "1,234.5", "41.09", "3"]]);
  assert.equal(lastMarkdownTable("no table here\n| just a pipe line |\n"), null);
  // Pipe lines after the last table that are not a table themselves (no separator) are not its rows.
  const trailing = "| h | x |\n|---|---|\n| 1 | 2 |\nsome text\n| not | a table |\n";
  assert.deepEqual(lastMarkdownTable(trailing), { header: ["h", "x"], rows: [["1", "2"]] });
});

Deno.test("bench compare: numbers in cells, and which way is better", () => {
  assert.deepEqual(["1,234.5", "3.2×", "45.1%", "72 ms", "0.97 GiB", "12", "-1.5e-3"].map(cellNumber), [1234.5, 3.2, 45.1, 72, 0.97, 12, -0.0015]);
  assert.deepEqual(["256³", "tiny preset", "8×128", ""].map(cellNumber), [null, null, null, null]);
  assert.deepEqual(["tiled GFLOP/s", "tokens/s", "MFU", "step ms", "prefill tok/s", "dispatches/step", "params"].map(columnSense), ["higher", "higher", "higher", "lower", "higher", "none", "none"]);
});

Deno.test("bench compare: medians over rounds, spread as half the range, ratio and speed-up", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(spreadPct([9, 10, 11]), 10);
  const table = (gflops: number, ms: number, d: number) => ({ header: ["shape", "tiled GFLOP/s", "tiled ms", "dispatches"], rows: [["256³", String(gflops), String(ms), String(d)]] });
  const cmp = compareTables([table(2, 50, 1), table(2.2, 45, 1), table(1.8, 55, 1)], [table(1, 100, 3), table(1, 100, 3), table(1, 100, 3)]);
  assert.deepEqual(cmp.rows, [
    ["256³", "tiled GFLOP/s", "2.00 ± 10%", "1.00 ± 0%", "2.00", "2.00×"],
    ["256³", "tiled ms", "50.0 ± 10%", "100 ± 0%", "0.50", "2.00×"],
    ["256³", "dispatches", "1.00 ± 0%", "3.00 ± 0%", "0.33", ""],
  ]);
  // A row or column the baseline lacks is left out rather than compared against nothing.
  const other = { header: ["shape", "tiled GFLOP/s"], rows: [["512³", "1"]] };
  assert.deepEqual(compareTables([table(2, 50, 1)], [other]).rows, []);
});

Deno.test("bench compare: rows sharing a first cell (one per batch size) stay apart, named by the column where they differ", () => {
  const infer = (b1: number, b8: number) => ({
    header: ["model", "batch", "decode tok/s"],
    rows: [["tiny", "1", String(b1)], ["tiny", "8", String(b8)], ["d12", "1", "2"]],
  });
  const cmp = compareTables([infer(20, 160)], [infer(10, 40)]);
  assert.deepEqual(cmp.rows.filter((r) => r[1] === "decode tok/s").map((r) => [r[0], r[4]]), [["tiny (batch 1)", "2.00"], ["tiny (batch 8)", "4.00"], ["d12", "1.00"]]);
  // A column the twins share (the prompt) does not name them; the first that differs does.
  const withPrompt = { header: ["model", "prompt", "batch", "decode tok/s"], rows: [["tiny", "64", "1", "10"], ["tiny", "64", "8", "40"]] };
  assert.deepEqual(compareTables([withPrompt], [withPrompt]).rows.filter((r) => r[1] === "decode tok/s").map((r) => r[0]), ["tiny (batch 1)", "tiny (batch 8)"]);
});

Deno.test("bench compare: --baseline and --rounds come out of the benchmark's own flags", () => {
  assert.deepEqual(splitCompareArgs(["--sizes", "1024", "--baseline", "c0c6831", "--rounds=5", "--no-naive"]), { rev: "c0c6831", rounds: 5, rest: ["--sizes", "1024", "--no-naive"] });
  assert.deepEqual(splitCompareArgs(["--baseline=HEAD~1"]), { rev: "HEAD~1", rounds: 3, rest: [] });
  assert.throws(() => splitCompareArgs(["--baseline"]), /--baseline needs a value/);
  assert.throws(() => splitCompareArgs(["--baseline", "x", "--rounds", "0"]), /--rounds must be a positive integer, got 0/);
});

Deno.test("bench compare: a baseline that is not a commit is named, with what to pass", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/bench.ts", "matmul", "--baseline", "no-such-rev-xyz"], cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
  }).output();
  assert.notEqual(r.code, 0);
  assert.match(new TextDecoder().decode(r.stderr), /--baseline no-such-rev-xyz: not a commit of this repository/);
});

Deno.test("bench step: op labels sort into matmul, attention and other", () => {
  assert.equal(kindOf("h0.c_fc(A·Bᵀ M=1024 N=512 K=128)"), "matmul");
  assert.equal(kindOf("lm_head.dW(Aᵀ·B+C M=4096 N=128 K=1024)"), "matmul");
  assert.equal(kindOf("muon 8×transformer.h.0.attn.c_q.weight….ns0 A=XXᵀ(A·Bᵀ M=128 N=128 K=128 batch=8)"), "matmul");
  assert.equal(kindOf("attention.backward(B=8 T=128 H=1 Hkv=1 hd=128):dq"), "attention");
  assert.equal(kindOf("h0.norm1(rows=1024 D=128)"), "other");
  assert.equal(kindOf("muon transformer.h.0.attn.c_q.weight.frobenius.partial(n=16384)"), "other");
});
