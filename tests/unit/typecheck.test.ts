// Strict TypeScript over the whole tree (src, tasks, tests, web), so type errors in modules
// no test imports (CLIs, benches, the lab) still fail the suite.
import assert from "node:assert/strict";

Deno.test("deno check: src/ tasks/ tests/ web/ type-check under strict mode", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const targets = ["src", "tasks", "tests"];
  try {
    for await (const e of Deno.readDir(`${root}web`)) if (e.name.endsWith(".ts") || e.isDirectory) targets.push("web");
  } catch { /* no web/ yet */ }
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", ...new Set(targets)],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 0, `type errors:\n${text}`);
});
