// `deno task lab` as a user runs it: --help, bad flags and a busy port give one clear
// line and exit 1; a good start prints the URL, serves, and Ctrl-C stops it cleanly.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

function labCommand(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/lab.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  });
}

async function lab(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await labCommand(args).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("lab cli: --help lists the flags", async () => {
  const r = await lab(["--help"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^usage: deno task lab \[flags\]/);
  for (const flag of ["--port <number>", "--host <string>", "--runs-dir <string>", "--web-dir <string>", "--no-build"]) assert.ok(r.out.includes(flag), flag);
  assert.match(r.out, /\(default: 8787\)/);
  assert.match(r.out, /\(default: "127\.0\.0\.1"\)/);
});

Deno.test("lab cli: bad flags and a busy port are one clear error line, exit 1", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const checks: [string[], RegExp][] = [
      [["--port", "abc"], /^error: --port expects a number, got "abc"/],
      [["--port", "70000"], /^error: --port must be an integer from 0 to 65535, got 70000/],
      [["--port", "80.5"], /^error: --port must be an integer/],
      [["--port", "-1"], /^error: --port must be an integer from 0 to 65535, got -1/],
      [["--frobnicate"], /^error: Unknown option '--frobnicate'/],
      [["serve"], /^error: unexpected argument 'serve'/],
      [["--no-build", "--port", String(port)], new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use .*--port ${port + 1}, or --port 0`)],
    ];
    const results = await Promise.all(checks.map(([args]) => lab(args)));
    for (const [i, [args, message]] of checks.entries()) {
      const r = results[i];
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.out}`);
      assert.match(r.err, message, args.join(" "));
      assert.doesNotMatch(r.err, /\n\s+at /, `${args.join(" ")}: no stack trace`);
    }
  } finally {
    busy.close();
  }
});

Deno.test("lab cli: starts on the given port, prints the URL, serves the API, stops on SIGINT", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lab_cli_" });
  const child = labCommand(["--no-build", "--port", "0", "--runs-dir", `${dir}/runs`, "--web-dir", `${dir}/web`]).spawn();
  const errText = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    let url: string | undefined;
    while (!url) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`lab exited early:\n${out}\n${await errText}`);
      out += value;
      url = /lab server: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    }
    assert.match(out, /no web build in .*\/web/);
    assert.match(out, /runs\b.* does not exist yet/);
    const health = await (await fetch(`${url}api/health`)).json();
    assert.deepEqual(health, { ok: true, runs_dir: `${dir}/runs` });
    const page = await fetch(url);
    assert.match(await page.text(), /not built/);
    child.kill("SIGINT");
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
    const status = await child.status;
    assert.equal(status.code, 0, `${out}\n${await errText}`);
    assert.match(out, /stopping the lab server/);
  } finally {
    await reader.cancel().catch(() => {});
    await errText;
    try {
      child.kill();
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
