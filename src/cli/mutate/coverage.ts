// Which test files cover which source files: the static import graph of src/ and tests/
// (imports, re-exports, dynamic imports with a literal, `new URL("x.ts" | "x.wgsl",
// import.meta.url)`), plus, for tests that start a command, the `src/….ts` paths they name
// (the e2e tests run `deno run src/cli/train.ts …` in a child process). A mutant of a file
// runs only the test files whose closure reaches that file.

/** Test files mutation never runs: Chromium (minutes per run), and checks of the text itself. */
export const SKIPPED_TESTS = [/^tests\/browser\//, /^tests\/unit\/typecheck\.test\.ts$/, /^tests\/unit\/import_direction\.test\.ts$/, /^tests\/unit\/project_structure\.test\.ts$/];

/** Repo-relative paths a file refers to. */
export function referencedPaths(path: string, text: string): string[] {
  const code = text.replace(/^\s*\/\/.*$/gm, "");
  const rel = [
    ...code.matchAll(/\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ...code.matchAll(/new URL\(\s*["']([^"']+\.(?:ts|wgsl))["']\s*,\s*import\.meta\.url\s*\)/g),
  ].map((m) => m[1]).filter((s) => s.startsWith("."));
  const dir = path.slice(0, path.lastIndexOf("/") + 1);
  const out = rel.map((s) => new URL(s, new URL(dir, "file:///")).pathname.slice(1));
  if (path.startsWith("tests/")) for (const m of code.matchAll(/["'`](src\/[\w/.-]+\.ts)["'`]/g)) out.push(m[1]);
  return out;
}

/** For every file reachable from a test: the test files reaching it. */
export function coverageMap(files: Map<string, string>, isTest: (path: string) => boolean): Map<string, Set<string>> {
  const edges = new Map<string, string[]>();
  for (const [path, text] of files) edges.set(path, referencedPaths(path, text));
  const covered = new Map<string, Set<string>>();
  for (const test of files.keys()) {
    if (!isTest(test)) continue;
    const seen = new Set<string>([test]);
    const stack = [test];
    while (stack.length) {
      for (const next of edges.get(stack.pop()!) ?? []) {
        if (seen.has(next)) continue;
        seen.add(next);
        stack.push(next);
      }
    }
    for (const f of seen) {
      if (!covered.has(f)) covered.set(f, new Set());
      covered.get(f)!.add(test);
    }
  }
  return covered;
}

export function isTestFile(path: string): boolean {
  return path.startsWith("tests/") && path.endsWith(".test.ts") && !SKIPPED_TESTS.some((r) => r.test(path));
}
