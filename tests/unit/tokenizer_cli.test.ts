// `deno task tok train|eval` end to end on a small text file, and the messages a user
// sees for bad input (no stack traces).
import assert from "node:assert/strict";
import { SAMPLE_TEXTS } from "../../src/tokenizer/sample_texts.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function tok(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/tok.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("cli: tok train on a text file, then tok eval prints the comparison tables", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${dir}/corpus.txt`;
    await Deno.writeTextFile(input, Object.values(SAMPLE_TEXTS).join("\n\n").repeat(3));
    const t = await tok(["train", "--vocab", "600", "--input", input, "--dir", `${dir}/tok`, "--workers", "1"]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /merges 335\/335 \(100\.0%\)/);
    assert.match(t.out, /vocab 600 = 256 bytes \+ 335 merges \+ 9 specials; hash [0-9a-f]{64}/);
    for (const f of ["tokenizer.json", "tokenizer.tiktoken", "token_bytes.json"]) assert.ok((await Deno.stat(`${dir}/tok/${f}`)).isFile);

    const e = await tok(["eval", "--dir", `${dir}/tok`, "--data-dir", `${dir}/none`]);
    assert.equal(e.code, 0, e.err);
    assert.match(e.out, /Comparison with GPT-2:/);
    assert.match(e.out, /Comparison with GPT-4:/);
    for (const kind of ["news", "korean", "code", "math", "science"]) assert.match(e.out, new RegExp(`\\n${kind} +\\d+ +\\d+ +\\d+\\.\\d\\d`));
    assert.match(e.out, /Text Type +Bytes +GPT-4 Tokens +GPT-4 Ratio +Ours Tokens +Ours Ratio +Relative Diff % +Better/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: bad input gives one clear error line and exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/empty.txt`, "");
    const checks: [string[], RegExp][] = [
      [["train", "--vocab", "200", "--input", `${dir}/empty.txt`], /vocab size 200 is too small: it must be at least 265/],
      [["train", "--vocab", "1000", "--input", `${dir}/empty.txt`, "--dir", `${dir}/t`], /training corpus is empty/],
      [["train", "--input", `${dir}/missing.txt`, "--dir", `${dir}/t`], /input file not found: .*missing\.txt/],
      [["train", "--vocab", "abc"], /--vocab expects a number, got "abc"/],
      [["train", "--data-dir", `${dir}/nothing`, "--dir", `${dir}/t`], /no parquet shards in .*nothing and no --input files/],
      [["eval", "--dir", `${dir}/none`], /file not found: .*none\/tokenizer\.json \(train one with 'deno task tok train'/],
      [["frobnicate"], /unknown command 'frobnicate'/],
    ];
    await Deno.mkdir(`${dir}/bad`);
    await Deno.writeTextFile(`${dir}/bad/tokenizer.json`, "{}");
    checks.push([["eval", "--dir", `${dir}/bad`], /bad\/tokenizer\.json is not a usable tokenizer file: "format" must be/]);
    for (const [args, message] of checks) {
      const r = await tok(args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.out}`);
      assert.match(r.err, message, args.join(" "));
      assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --help lists the flags", async () => {
  const r = await tok(["train", "--help"]);
  assert.equal(r.code, 0);
  for (const flag of ["--vocab", "--max-chars", "--doc-cap", "--input", "--dir", "(default: 65536)"]) assert.ok(r.out.includes(flag), flag);
  assert.match((await tok([])).out, /commands:\n {2}train .*\n {2}eval /);
});
