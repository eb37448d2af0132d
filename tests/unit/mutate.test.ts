// The mutation-testing tool's pure parts: which edits it makes (and never makes), how it
// matches reviewed equivalents, samples, scores and maps tests to files.
import assert from "node:assert/strict";
import { globToRegExp, splitGlobs } from "../../src/cli/mutate.ts";
import { coverageMap, isTestFile } from "../../src/cli/mutate/coverage.ts";
import { formatEquivalent, matchEquivalent, parseEquivalents } from "../../src/cli/mutate/equivalents.ts";
import { applyMutant, findMutants, maskNonCode, type Mutant } from "../../src/cli/mutate/mutants.ts";
import { folderOf, sampleMutants, scores, survivorLines } from "../../src/cli/mutate/report.ts";
import type { Outcome } from "../../src/cli/mutate/runner.ts";

const edits = (ms: Mutant[]) => ms.map((m) => `${m.line}:${m.col} ${m.operator} ${m.operator === "statement" ? "drop" : `${m.original}→${m.replacement}`}`);

Deno.test("mutate: comments, strings, template literals and regex literals are masked; division is not", () => {
  const src = 'const a = b / c; // x + y\nconst s = "p < q", t = `r * ${u}`;\nconst re = /a+b/g; /* k - 1 */ f(d / 2);';
  const masked = maskNonCode(src, "ts");
  assert.equal(masked.length, src.length);
  assert.match(masked, /b \/ c;/);
  assert.doesNotMatch(masked, /x \+ y|p < q|r \*|a\+b|k - 1/);
  assert.match(masked, /f\(d \/ 2\)/);
});

Deno.test("mutate: TypeScript mutants — spaced operators, bounds, constants, logic, dropped statements; generics, imports, console and strings untouched", () => {
  const src = [
    'import { x } from "./y.ts";',            // 1: skipped
    "const m = new Map<string, number>();",   // 2: generics: nothing
    "if (i < n && ok) total += a * 2;",       // 3
    'console.log(`${a + b}`);',               // 4: skipped
    "out.push(f(k - 1));",                    // 5
    "const flag = true, y = Math.max(p, 0.5);", // 6
    'throw new Error("a > b");',              // 7: string only
  ].join("\n");
  assert.deepEqual(edits(findMutants("src/x.ts", src)), [
    "3:7 comparison <→<=",
    "3:11 logic &&→||",
    "3:24 arithmetic +=→-=",
    "3:29 arithmetic *→/",
    "3:31 constant 2→3",
    "5:14 arithmetic -→+",
    "5:16 constant 1→0",
    "5:1 statement drop",
    "6:14 logic true→false",
    "6:24 logic Math.max(→Math.min(",
    "6:36 constant 0.5→5.0",
  ]);
});

Deno.test("mutate: WGSL mutants include unspaced operators and statements; attributes and declarations are left alone", () => {
  const src = [
    "@group(0) @binding(1) var<storage, read_write> y: array<f32>;",
    "@compute @workgroup_size(64)",
    "fn main(@builtin(global_invocation_id) gid: vec3<u32>) {",
    "  let i = gid.x*2u+1u;",
    "  if (i >= params.n) { return; }",
    "  y[i] = max(y[i], 1e-6);",
    "  workgroupBarrier();",
    "}",
  ].join("\n");
  assert.deepEqual(edits(findMutants("kernels/k.wgsl", src)), [
    "4:16 arithmetic *→/",
    "4:19 arithmetic +→-",
    "4:17 constant 2u→3u",
    "4:20 constant 1u→0u",
    "5:9 comparison >=→>",
    "6:10 logic max(→min(",
    "6:20 constant 1e-6→1e-5",
    "6:3 statement drop",
    "7:3 statement drop",
  ]);
});

Deno.test("mutate: applyMutant edits exactly one place and refuses a file that changed", () => {
  const src = "let a = b + c;\nf(a);\n";
  const [plus, drop] = findMutants("src/x.ts", src);
  assert.equal(applyMutant(src, plus), "let a = b - c;\nf(a);\n");
  assert.equal(applyMutant(src, drop), "let a = b + c;\n\n");
  assert.throws(() => applyMutant("let a = b * c;\nf(a);\n", plus), /'\+' is not there/);
});

Deno.test("mutate: reviewed equivalents match by file, code and edit (not by line number), and a bad line is named", () => {
  const [m] = findMutants("src/nn/k.ts", "\n\nreturn D >= 256 ? 256 : 64;");
  const line = formatEquivalent(m, "workgroup size: speed only");
  assert.equal(line, "src/nn/k.ts:3  return D >= 256 ? 256 : 64;  «>= → >»  workgroup size: speed only");
  const list = parseEquivalents(`# reviewed\n\n${line.replace(":3 ", ":99 ")}\n`);
  assert.equal(matchEquivalent(m, list)?.why, "workgroup size: speed only");
  const other = findMutants("src/nn/k.ts", "return D >= 128 ? 256 : 64;")[0];
  assert.equal(matchEquivalent(other, list), null);
  assert.throws(() => parseEquivalents("src/a.ts:1 no separators"), /equivalent\.txt:1: expected 'file:line {2}code {2}«edit» {2}why'/);
});

Deno.test("mutate: a budget samples every file, deterministically, in file order", () => {
  const ms = ["a", "b", "c"].flatMap((f) => Array.from({ length: 10 }, (_, i) => ({ file: `src/${f}.ts`, line: i + 1 } as Mutant)));
  const s = sampleMutants(ms, 6, 1);
  assert.equal(s.length, 6);
  assert.deepEqual([...new Set(s.map((m) => m.file))], ["src/a.ts", "src/b.ts", "src/c.ts"]);
  assert.deepEqual(s, sampleMutants(ms, 6, 1));
  assert.notDeepEqual(s, sampleMutants(ms, 6, 2));
  assert.deepEqual(s, [...s].sort((x, y) => ms.indexOf(x) - ms.indexOf(y)));
  assert.equal(sampleMutants(ms, 100, 1).length, 30);
});

Deno.test("mutate: scores leave equivalents out, count timeouts as killed and untested mutants as survivors", () => {
  const o = (file: string, status: Outcome["status"]) => ({ mutant: { file } as Mutant, status, tests: [], ms: 0 });
  const [k, n] = scores([o("kernels/a.wgsl", "killed"), o("kernels/a.wgsl", "timeout"), o("kernels/a.wgsl", "survived"), o("kernels/a.wgsl", "equivalent"), o("src/nn/x.ts", "no-tests")]);
  assert.deepEqual([k.folder, k.mutants, k.score], ["kernels", 4, 2 / 3]);
  assert.deepEqual([n.folder, n.noTests, n.score], ["src/nn", 1, 0]);
  assert.equal(folderOf("src/cli/bench/x.ts"), "src/cli");
});

Deno.test("mutate: globs and the test graph (imports, kernel URLs, commands a test starts)", () => {
  const g = splitGlobs("kernels/*.wgsl,src/{nn,model}/*.ts,src/**/x.ts").map(globToRegExp);
  assert.deepEqual(["kernels/a.wgsl", "src/nn/a.ts", "src/model/b.ts", "src/a/b/x.ts", "src/gpu/a.ts", "kernels/sub/a.wgsl"].map((p) => g.some((r) => r.test(p))), [true, true, true, true, false, false]);
  const files = new Map([
    ["tests/unit/a.test.ts", 'import { f } from "../../src/nn/a.ts";'],
    ["tests/e2e/b.test.ts", 'const args = ["run", "src/cli/train.ts"];'],
    ["tests/browser/c.test.ts", 'import "../../src/nn/a.ts";'],
    ["src/nn/a.ts", 'const U = new URL("../../kernels/a.wgsl", import.meta.url);'],
    ["src/cli/train.ts", 'import "../train/loop.ts";'],
    ["src/train/loop.ts", ""],
  ]);
  const cov = coverageMap(files, isTestFile);
  // Each test with its import distance: a.test.ts → src/nn/a.ts (1) → kernels/a.wgsl (2).
  assert.deepEqual([...cov.get("kernels/a.wgsl")!], [["tests/unit/a.test.ts", 2]]);
  assert.deepEqual([...cov.get("src/nn/a.ts")!], [["tests/unit/a.test.ts", 1]]);
  assert.deepEqual([...cov.get("src/train/loop.ts")!], [["tests/e2e/b.test.ts", 2]]);
});

Deno.test("mutate: a survivor whose time budget ran out says how many of its test files ran", () => {
  const mutant = { file: "src/nn/x.ts", line: 3, col: 5, lineText: "a + b", from: "+", to: "-" } as unknown as Mutant;
  const lines = survivorLines([
    { mutant, status: "survived", tests: ["t1", "t2"], ms: 1, unrun: 5 },
    { mutant, status: "survived", tests: ["t1"], ms: 1 },
    { mutant, status: "killed", tests: ["t1"], ms: 1 },
  ]);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /\(2 of 7 test files run: the --mutant-seconds budget ran out\)/);
  assert.doesNotMatch(lines[1], /budget/);
});
