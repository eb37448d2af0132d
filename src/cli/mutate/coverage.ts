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

/**
 * For every file reachable from a test: the test files reaching it, each with its distance
 * (import hops from the test to the file: 1 for a test that imports it directly). Mutation
 * runs the nearest tests first: they are the ones written for the file, and kill soonest.
 */
export function coverageMap(files: Map<string, string>, isTest: (path: string) => boolean): Map<string, Map<string, number>> {
  const edges = new Map<string, string[]>();
  for (const [path, text] of files) edges.set(path, referencedPaths(path, text));
  const covered = new Map<string, Map<string, number>>();
  for (const test of files.keys()) {
    if (!isTest(test)) continue;
    // Breadth first, so each file's depth is its shortest import path from the test.
    const depth = new Map<string, number>([[test, 0]]);
    const queue = [test];
    for (let i = 0; i < queue.length; i++) {
      for (const next of edges.get(queue[i]) ?? []) {
        if (depth.has(next)) continue;
        depth.set(next, depth.get(queue[i])! + 1);
        queue.push(next);
      }
    }
    for (const [f, d] of depth) {
      if (!covered.has(f)) covered.set(f, new Map());
      covered.get(f)!.set(test, d);
    }
  }
  return covered;
}

export function isTestFile(path: string): boolean {
  return path.startsWith("tests/") && path.endsWith(".test.ts") && !SKIPPED_TESTS.some((r) => r.test(path));
}
