// HumanEval: rows → examples, reply → program, and the Python sandbox the programs run in
// (tasks/deno_execution.ts, through a real python3). The sandbox cases are hostile
// programs; each must end quickly, be refused, and leave the next run working.
import assert from "node:assert/strict";
import { assistantText, TaskError } from "../../tasks/common.ts";
import { PythonMissingError, runPython } from "../../tasks/deno_execution.ts";
import {
  buildProgram,
  type ExecutionResult,
  extractCode,
  extractImports,
  extractProgram,
  HumanEval,
  type HumanEvalRow,
} from "../../tasks/humaneval.ts";

const ADD: HumanEvalRow = {
  task_id: "Toy/0",
  prompt: 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(2, 3)\n    5\n    """\n',
  canonical_solution: "    return a + b\n",
  test: "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n    assert candidate(0, 0) == 0\n",
  entry_point: "add",
};

const HYPOT: HumanEvalRow = {
  task_id: "Toy/1",
  prompt: '# a comment first\nimport math\nfrom collections import Counter\n\ndef hyp(a: float, b: float) -> float:\n    """The hypotenuse."""\n',
  canonical_solution: "    return math.sqrt(a * a + b * b)\n",
  test: "def check(candidate):\n    assert abs(candidate(3, 4) - 5) < 1e-9\n",
  entry_point: "hyp",
};

const run = (program: string) => runPython(program, { timeoutMs: 3000 });
const task = () => new HumanEval({ rows: [ADD, HYPOT], run });

/** A normal program after a hostile one: the sandbox still works. */
async function runGoesOn(): Promise<void> {
  const r = await runPython("import math, re, collections\nprint(math.factorial(5), re.sub('a', 'b', 'aa'), collections.Counter('xyx')['x'])");
  assert.equal(r.ok, true, r.stderr);
  assert.equal(r.stdout.trim(), "120 bb 2");
}

async function timed(program: string, timeoutMs = 3000): Promise<{ r: ExecutionResult; ms: number }> {
  const t0 = performance.now();
  const r = await runPython(program, { timeoutMs });
  return { r, ms: performance.now() - t0 };
}

Deno.test("humaneval: examples are the prompt and prompt + canonical solution", () => {
  const t = task();
  assert.equal(t.evalType, "generative");
  assert.equal(t.numExamples(), 2);
  assert.equal(t.length, 2);
  const ex = t.example(0);
  assert.deepEqual(ex.messages[0], { role: "user", content: ADD.prompt });
  assert.equal(assistantText(ex), `${ADD.prompt}\n${ADD.canonical_solution}`);
  assert.equal(new HumanEval({ rows: [ADD, HYPOT], run, start: 1 }).example(0).messages[0].content, HYPOT.prompt);
});

Deno.test("humaneval: rows are checked field by field, naming the row and field", () => {
  const bad: [unknown, RegExp][] = [
    [null, /row 0: expected an object/],
    [{ ...ADD, prompt: 3 }, /row 0 \(Toy\/0\): field prompt must be a string, got number/],
    [{ ...ADD, test: undefined }, /field test must be a string, got nothing/],
    [{ ...ADD, canonical_solution: "  " }, /field canonical_solution is empty/],
    [{ ...ADD, entry_point: "add); import os; (" }, /entry_point must be a Python identifier/],
    [{ ...ADD, test: "assert True" }, /field test does not define check/],
  ];
  for (const [row, msg] of bad) assert.throws(() => new HumanEval({ rows: [row], run }), (e: Error) => e instanceof TaskError && msg.test(e.message));
  assert.throws(() => new HumanEval({ rows: [HYPOT, { ...ADD, entry_point: 1 }], run }), /humaneval row 1 \(Toy\/0\): field entry_point/);
  assert.throws(() => new HumanEval({ rows: [], run }), /no rows/);
  assert.throws(() => new HumanEval({ rows: [ADD], run: undefined as never }), /options.run/);
});

Deno.test("humaneval: imports come from the top of the prompt only", () => {
  assert.equal(extractImports(ADD.prompt), "from typing import List");
  assert.equal(extractImports(HYPOT.prompt), "import math\nfrom collections import Counter");
  assert.equal(extractImports("def f():\n    import os\n"), "");
});

Deno.test("humaneval: the code is the first fenced block, else the whole reply", () => {
  const fenced = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nand a second:\n```python\nprint('no')\n```";
  assert.equal(extractCode(fenced), "def add(a, b):\n    return a + b");
  assert.equal(extractCode("Sure.\n```\ndef add(a, b):\n    return a + b\n```"), "def add(a, b):\n    return a + b");
  assert.equal(extractCode("  def add(a, b):\n    return a + b\n\n"), "def add(a, b):\n    return a + b");
  assert.equal(extractCode("```python\nunclosed"), "```python\nunclosed");
});

Deno.test("humaneval: the program is imports, code, test and check(entry_point)", () => {
  const t = task();
  const reply = "```python\ndef hyp(a, b):\n    return math.hypot(a, b)\n```";
  const program = extractProgram(t.example(1), reply);
  assert.equal(program, `import math\nfrom collections import Counter\n\ndef hyp(a, b):\n    return math.hypot(a, b)\n\n${HYPOT.test}\n\ncheck(hyp)`);
  assert.equal(program, buildProgram(HYPOT.prompt, reply, HYPOT.test, "hyp"));
  assert.throws(() => extractProgram({ messages: [{ role: "user", content: "x" }] }, reply), TaskError);
});

Deno.test("humaneval: evaluate runs the program and passes only a clean run", async () => {
  const t = task();
  for (let i = 0; i < t.length; i++) assert.equal(await t.evaluate(t.example(i), assistantText(t.example(i))), true, `reference answer ${i}`);
  const ex = t.example(0);
  assert.equal(await t.evaluate(ex, "Here:\n```python\ndef add(a, b):\n    return a + b\n```"), true);
  assert.equal(await t.evaluate(ex, "```python\ndef add(a, b):\n    return a - b\n```"), false);
  assert.equal(await t.evaluate(ex, "```python\ndef add(a, b)\n    return a + b\n```"), false);
  assert.equal(await t.evaluate(ex, "I don't know."), false);
  // The imports of the prompt are there even when the reply leaves them out.
  assert.equal(await t.evaluate(t.example(1), "def hyp(a, b):\n    return math.hypot(a, b)"), true);
  // A reply may not skip the tests by exiting early.
  assert.equal(await t.evaluate(ex, "import sys\nsys.exit(0)"), false);
  assert.equal(await t.evaluate(ex, "import os\nos._exit(0)"), false);
  assert.equal(await t.reward(ex, "def add(a, b):\n    return b + a"), 1);
});

Deno.test("humaneval: evaluate trusts only ok, exit 0 and no timeout", async () => {
  const seen: string[] = [];
  const fake = (r: Partial<ExecutionResult>) => (p: string) => (seen.push(p), Promise.resolve({ ok: true, exitCode: 0, timedOut: false, stdout: "", stderr: "", ...r }));
  const ex = task().example(0);
  assert.equal(await new HumanEval({ rows: [ADD], run: fake({}) }).evaluate(ex, "x"), true);
  assert.equal(await new HumanEval({ rows: [ADD], run: fake({ timedOut: true }) }).evaluate(ex, "x"), false);
  assert.equal(await new HumanEval({ rows: [ADD], run: fake({ exitCode: 1 }) }).evaluate(ex, "x"), false);
  assert.equal(await new HumanEval({ rows: [ADD], run: fake({ ok: false }) }).evaluate(ex, "x"), false);
  assert.ok(seen[0].endsWith("check(add)"));
});

Deno.test("sandbox: normal code runs, with the usual imports and files in its own directory", async () => {
  const r = await runPython([
    "import math, re, collections, itertools, typing, functools, heapq, string, fractions",
    "from typing import List",
    "xs: List[int] = sorted(itertools.chain([3, 1], [2]))",
    "open('scratch.txt', 'w').write('kept')",
    "print(xs, math.gcd(12, 18), open('scratch.txt').read(), fractions.Fraction(1, 3) * 3)",
  ].join("\n"));
  assert.equal(r.ok, true, r.stderr);
  assert.deepEqual([r.exitCode, r.timedOut, r.stdout], [0, false, "[1, 2, 3] 6 kept 1\n"]);
  assert.equal(r.error, undefined);
});

Deno.test("sandbox: a failing program reports its exception", async () => {
  const r = await runPython("def f():\n    raise ValueError('nope')\nf()");
  assert.deepEqual([r.ok, r.exitCode, r.error], [false, 1, "ValueError: nope"]);
  assert.match(r.stderr, /Traceback/);
});

Deno.test("sandbox: an endless loop is stopped at the timeout", async () => {
  const { r, ms } = await timed("import os\nprint(os.getpid(), flush=True)\nwhile True:\n    pass", 1000);
  assert.equal(r.timedOut, true);
  const pid = Number(r.stdout.trim());
  assert.ok(pid > 0, r.stdout);
  assert.equal(await Deno.stat(`/proc/${pid}`).then(() => true, () => false), false, "the process is gone");
  assert.equal(r.ok, false);
  assert.match(r.error!, /timed out after 1000 ms/);
  assert.ok(ms < 2000, `took ${ms} ms`);
  await runGoesOn();
});

Deno.test("sandbox: allocating 10 GB fails with MemoryError", async () => {
  const { r, ms } = await timed("x = bytearray(10 * 1024**3)\nprint(len(x))");
  assert.equal(r.ok, false);
  assert.notEqual(r.exitCode, 0);
  assert.match(r.stderr, /MemoryError/);
  assert.ok(ms < 2000, `took ${ms} ms`);
  await runGoesOn();
});

Deno.test("sandbox: writes outside the temporary directory are refused", async () => {
  const path = `/tmp/${crypto.randomUUID()}-escape.txt`;
  const attempts = [
    `open(${JSON.stringify(path)}, "w").write("x")`,
    `open(${JSON.stringify(path)}, "a").write("x")`,
    `import pathlib\npathlib.Path(${JSON.stringify(path)}).write_text("x")`,
    `import os\nos.open(${JSON.stringify(path)}, os.O_WRONLY | os.O_CREAT)`,
    `open("../${path.slice(5)}", "w").write("x")`,
  ];
  for (const program of attempts) {
    const r = await runPython(program);
    assert.equal(r.ok, false, program);
    assert.match(r.stderr, /PermissionError: writing outside/, program);
    assert.equal(await Deno.stat(path).then(() => true, () => false), false, `${path} exists after: ${program}`);
  }
  await runGoesOn();
});

Deno.test("sandbox: the environment of the test process is not inherited", async () => {
  const name = `NANOCHAT_SECRET_${crypto.randomUUID().replaceAll("-", "_")}`;
  const secret = crypto.randomUUID();
  Deno.env.set(name, secret);
  try {
    const r = await runPython(`import os\nprint(os.environ.get(${JSON.stringify(name)}))\nprint(sorted(os.environ))`);
    assert.equal(r.ok, true, r.stderr);
    assert.equal(r.stdout.split("\n")[0], "None");
    assert.ok(!r.stdout.includes(secret));
    // Nor through the parent's /proc entry.
    const proc = await runPython(`import os\nprint(open("/proc/%d/environ" % os.getppid()).read())`);
    assert.equal(proc.ok, false);
    assert.ok(!proc.stdout.includes(secret));
  } finally {
    Deno.env.delete(name);
  }
  await runGoesOn();
});

Deno.test("sandbox: os.system, subprocess and fork are refused", async () => {
  const marker = `/tmp/${crypto.randomUUID()}-ran.txt`;
  const attempts = [
    `import os\nos.system("touch ${marker}")`,
    `import subprocess\nsubprocess.run(["touch", "${marker}"])`,
    `import subprocess\nsubprocess.Popen(["touch", "${marker}"])`,
    `import os\nos.fork()`,
    `import os\nos.execv("/usr/bin/touch", ["touch", "${marker}"])`,
    `import shutil\nshutil.rmtree("/tmp/anything")`,
    `import ctypes`,
  ];
  for (const program of attempts) {
    const r = await runPython(program);
    assert.equal(r.ok, false, program);
    assert.match(r.stderr, /PermissionError: .* is disabled|ModuleNotFoundError|ImportError/, program);
  }
  assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
  await runGoesOn();
});

Deno.test("sandbox: output is cut to a few KB, and the temporary directory is removed", async () => {
  const r = await runPython("import os\nprint(os.path.dirname(__file__))\nprint('x' * 100000)\nraise KeyError('last')");
  assert.ok(r.stdout.length < 5000, `${r.stdout.length} chars`);
  assert.match(r.stdout, /bytes cut/);
  assert.equal(r.error, "KeyError: 'last'");
  const dir = r.stdout.split("\n")[0];
  assert.match(dir, /nanochat-humaneval-/);
  assert.equal(await Deno.stat(dir).then(() => true, () => false), false);
});

Deno.test("sandbox: a missing python3 says how to install it", async () => {
  const missing = { python: `/nonexistent/python3-${crypto.randomUUID()}` };
  for (let i = 0; i < 2; i++) {
    await assert.rejects(runPython("print(1)", missing), (e: Error) => e instanceof PythonMissingError && /sudo apt-get install -y python3/.test(e.message));
  }
});
