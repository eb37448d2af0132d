// Strict TypeScript and deno lint's recommended rules over the whole tree (src, tasks, tests,
// web), so type errors and unused imports in modules no test imports (CLIs, benches, the
// lab) still fail the suite.
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

async function denoOver(command: "check" | "lint"): Promise<{ code: number; text: string }> {
  const targets = ["src", "tasks", "tests"];
  try {
    for await (const e of Deno.readDir(`${root}web`)) if (e.name.endsWith(".ts") || e.isDirectory) targets.push("web");
  } catch { /* no web/ yet */ }
  const r = await new Deno.Command(Deno.execPath(), {
    args: [command, "--quiet", ...new Set(targets)],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: r.code, text: new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout) };
}

Deno.test("deno check: src/ tasks/ tests/ web/ type-check under strict mode", async () => {
  const { code, text } = await denoOver("check");
  assert.equal(code, 0, `type errors:\n${text}`);
});

Deno.test("deno lint: src/ tasks/ tests/ web/ pass the recommended rules (no unused imports or variables)", async () => {
  const { code, text } = await denoOver("lint");
  assert.equal(code, 0, `lint problems:\n${text}`);
});
