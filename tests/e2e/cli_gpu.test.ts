// The clear messages a user sees when WebGPU is missing or the adapter is wrong.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

async function deno(args: string[], env: Record<string, string> = {}, clearEnv = false): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1", ...env }, clearEnv })
    .output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("without a WebGPU adapter the CLI says what to install and exits non-zero", async () => {
  // Only the Vulkan backend, and a Vulkan loader that finds no driver: what a machine
  // without GPU drivers and without Mesa looks like to Deno.
  const r = await deno(["run", "-A", "src/cli/gpu.ts"], {
    DENO_WEBGPU_BACKEND: "vulkan",
    VK_DRIVER_FILES: "/nonexistent/icd.json",
    VK_ICD_FILENAMES: "/nonexistent/icd.json",
  });
  assert.notEqual(r.code, 0);
  assert.match(r.err, /WebGPU found no adapter/);
  assert.match(r.err, /apt-get install -y mesa-vulkan-drivers/);
  assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
});

Deno.test("an adapter name that matches nothing lists the adapters found", async () => {
  const r = await deno(["run", "-A", "src/cli/gpu.ts", "--adapter", "no-such-gpu-xyz"]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /no WebGPU adapter matches 'no-such-gpu-xyz'/);
  assert.match(r.err, /Adapters found: /);
});

Deno.test("deno task gpu describes the adapter", async () => {
  const r = await deno(["run", "-A", "src/cli/gpu.ts", "--json"]);
  assert.equal(r.code, 0, r.err);
  const info = JSON.parse(r.out);
  assert.ok(info.description.length > 0);
  assert.ok(info.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024);
});

Deno.test("a headless start prints nothing on stderr (no XDG_RUNTIME_DIR lines from the Vulkan stack)", async () => {
  // What CI, containers and sudo give a process: no XDG_RUNTIME_DIR, no display.
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "VK_ICD_FILENAMES", "VK_DRIVER_FILES"];
  const env = Object.fromEntries(keep.flatMap((k) => (Deno.env.get(k) ? [[k, Deno.env.get(k)!]] : [])));
  const r = await deno(["run", "-A", "src/cli/gpu.ts"], env, true);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "", "stderr of a successful 'deno task gpu'");
});

Deno.test("an unknown flag is a usage error naming the flag", async () => {
  const r = await deno(["run", "-A", "src/cli/gpu.ts", "--bogus"]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /bogus/);
  assert.match(r.err, /--help/);
});
