// `deno task test [paths...] [-- deno test flags]`: everything a user needs to trust the lab.
// It first makes sure what the tests need is installed (npm packages; on Debian/Ubuntu
// as root, Chromium and Mesa's Vulkan driver through apt) or stops with the exact
// command to run, then runs `deno test` over tests/ and ends with `N passed, N failed`.
import { runMain, UsageError } from "./args.ts";
import { findChromium } from "./chromium_path.ts";

const HELP = `usage: deno task test [paths...] [--filter TEXT] [--no-install]

Runs the unit, kernel (Deno WebGPU), end-to-end and browser (Chromium WebGPU) tests.
Default paths: tests/. Ends with the line "N passed, N failed".

  --filter TEXT   only tests whose name contains TEXT (passed to deno test)
  --no-install    never install system packages; stop with the command to run instead
  -h, --help      show this help`;

const ROOT = new URL("../../", import.meta.url).pathname;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string[], opts: { quiet?: boolean } = {}): Promise<number> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    stdout: opts.quiet ? "null" : "inherit",
    stderr: opts.quiet ? "null" : "inherit",
  }).spawn();
  return (await child.status).code;
}

async function hasVulkanDriver(): Promise<boolean> {
  for (const dir of ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]) {
    try {
      for await (const _ of Deno.readDir(dir)) return true;
    } catch { /* not there */ }
  }
  return false;
}

/** Installs missing system packages where we can, else explains what to run. */
async function ensureSystemPackages(allowInstall: boolean): Promise<void> {
  if (Deno.build.os !== "linux") {
    if (!findChromium()) {
      throw new UsageError("Chromium/Chrome is needed for the browser tests: install it and set CHROMIUM_PATH to its binary.");
    }
    return;
  }
  const missing: string[] = [];
  if (!findChromium()) missing.push("chromium");
  if (!(await hasVulkanDriver())) missing.push("mesa-vulkan-drivers");
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y ${missing.join(" ")}`;
  const isRoot = Deno.uid() === 0;
  const hasApt = await exists("/usr/bin/apt-get");
  if (!allowInstall || !isRoot || !hasApt) {
    throw new UsageError(
      `the tests need ${missing.join(" and ")}, which ${missing.length > 1 ? "are" : "is"} not installed.\n` +
        (hasApt ? `Install with:  sudo sh -c '${command}'` : `Install ${missing.join(", ")} with your system's package manager`) +
        (missing.includes("chromium") ? "\n(or set CHROMIUM_PATH to a Chromium/Chrome binary)" : ""),
    );
  }
  console.log(`[test] installing ${missing.join(", ")} with apt-get…`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", ...missing]]) {
    const code = (await new Deno.Command("apt-get", { args, env, stdout: "inherit", stderr: "inherit" }).spawn().status).code;
    if (code !== 0) throw new UsageError(`'apt-get ${args.join(" ")}' failed (exit ${code}); run it by hand: ${command}`);
  }
}

async function ensureNodeModules(): Promise<void> {
  if (await exists(`${ROOT}node_modules/playwright-core/package.json`) && await exists(`${ROOT}node_modules/vite/package.json`)) return;
  console.log("[test] installing npm packages (deno install)…");
  const code = await run([Deno.execPath(), "install"]);
  if (code !== 0) throw new UsageError("'deno install' failed: check network access to the npm registry, then run 'npx -y deno install'");
}

// deno test's closing line, e.g. "ok | 12 passed (3 steps) | 1 failed (2 ignored) (4s)".
const SUMMARY = /^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/;

runMain(async (args) => {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(HELP);
    return;
  }
  const allowInstall = !args.includes("--no-install");
  const rest = args.filter((a) => a !== "--no-install");
  const filterAt = rest.indexOf("--filter");
  const filter = filterAt >= 0 ? ["--filter", rest[filterAt + 1] ?? ""] : [];
  const paths = rest.filter((a, i) => !a.startsWith("-") && (filterAt < 0 || i !== filterAt + 1));
  const unknown = rest.filter((a, i) => a.startsWith("-") && i !== filterAt);
  if (unknown.length) throw new UsageError(`unknown flag ${unknown[0]}\n\n${HELP}`);

  await ensureNodeModules();
  await ensureSystemPackages(allowInstall);

  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--unstable-webgpu", ...filter, ...(paths.length ? paths : ["tests/"])],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
    // NO_COLOR keeps the summary parseable (acquireGpu quiets Mesa's runtime-dir warning itself).
    env: { NO_COLOR: "1" },
  }).spawn();
  let passed = 0, failed = 0, sawSummary = false, tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    const text = decoder.decode(chunk, { stream: true });
    await Deno.stdout.write(chunk);
    tail += text;
    const lines = tail.split("\n");
    tail = lines.pop() ?? "";
    for (const line of lines) {
      const m = SUMMARY.exec(line.trim());
      if (m) {
        passed += Number(m[2]);
        failed += Number(m[3]);
        sawSummary = true;
      }
    }
  }
  const m = SUMMARY.exec(tail.trim());
  if (m) {
    passed += Number(m[2]);
    failed += Number(m[3]);
    sawSummary = true;
  }
  const status = await child.status;
  if (!sawSummary || (status.code !== 0 && failed === 0)) failed += 1; // crashed before or outside a test
  console.log(`\n${passed} passed, ${failed} failed`);
  Deno.exit(status.code === 0 && failed === 0 ? 0 : 1);
});
