// Out-of-range numeric flags are refused while parsing, naming the flag and its range,
// before any GPU work: the ranges live in the flag tables (min / max / integer / unset),
// and train's come from the run-config table.
import assert from "node:assert/strict";
import { parseFlags, UsageError } from "../../src/cli/args.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("flags: min, max, integer and the one 'unset' value are checked by parseFlags", () => {
  const table = {
    n: { type: "number", default: 1, help: "n", min: 1, integer: true },
    every: { type: "number", default: -1, help: "e", min: 1, max: 100, integer: true, unset: -1 },
    t: { type: "number", default: 0.5, help: "t", min: 0 },
  } as const;
  const parse = (args: string[]) => parseFlags(args, "x", "", table)!.flags;
  assert.equal(parse(["--n", "3"]).n, 3);
  assert.equal(parse(["--every", "-1"]).every, -1, "the unset value is accepted");
  assert.equal(parse(["--t", "0"]).t, 0);
  const bad: [string[], RegExp][] = [
    [["--n", "0"], /^--n must be an integer ≥ 1, got 0$/],
    [["--n", "-1"], /^--n must be an integer ≥ 1, got -1$/],
    [["--n", "2.5"], /^--n must be an integer ≥ 1, got 2\.5$/],
    [["--every", "0"], /^--every must be an integer from 1 to 100 \(or -1\), got 0$/],
    [["--every", "101"], /^--every must be an integer from 1 to 100 \(or -1\), got 101$/],
    [["--t", "-0.1"], /^--t must be a number ≥ 0, got -0\.1$/],
  ];
  for (const [args, message] of bad) assert.throws(() => parse(args), (err: Error) => err instanceof UsageError && message.test(err.message), args.join(" "));
});

Deno.test("flags: real commands refuse out-of-range values naming the flag, before touching a GPU", async () => {
  const cases: [string, string[], RegExp][] = [
    ["src/cli/eval.ts", ["base", "--bpb", "--tokens", "-1"], /^error: --tokens must be an integer ≥ 1, got -1$/m],
    ["src/cli/eval.ts", ["base", "--bpb", "--batch-size", "0"], /^error: --batch-size must be an integer from 1 to 65536, got 0$/m],
    ["src/cli/train.ts", ["base", "--num-iterations", "0"], /^error: --num-iterations must be an integer from 1 to 1000000000 \(or -1\), got 0$/m],
    ["src/cli/train.ts", ["base", "--device-batch-size", "0"], /^error: --device-batch-size must be an integer from 1 to 65536, got 0$/m],
    ["src/cli/chat.ts", ["--top-k", "-3"], /^error: --top-k must be an integer ≥ 0, got -3$/m],
  ];
  for (const [script, args, message] of cases) {
    const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, ...args], cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
    const err = new TextDecoder().decode(r.stderr), out = new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 1, `${script} ${args.join(" ")}: ${out}${err}`);
    assert.match(err, message, `${script} ${args.join(" ")}`);
    assert.doesNotMatch(out + err, /adapter|llvmpipe|lavapipe/i, "no GPU was acquired");
  }
});
