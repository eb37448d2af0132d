// Imports run one way: every relative import under src/, tasks/ and web/src/ must go to the same
// folder or to a folder on a lower floor of the order written in docs/project_structure.md
// (the one place it is written; this test reads it from there). Modules that the browser
// bundles (everything but cli/, server/ and deno_*.ts files) must not import Deno-only ones.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** The floors, lowest first, from the ```imports block of docs/project_structure.md. */
export async function importFloors(): Promise<string[][]> {
  const doc = await Deno.readTextFile(new URL("docs/project_structure.md", ROOT));
  const block = doc.match(/```imports\n([^`]+)```/);
  if (!block) throw new Error("docs/project_structure.md has no ```imports block with the import order");
  const line = block[1].split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
  return line.split("→").map((f) => f.trim().replace(/^\(|\)$/g, "").split(",").map((s) => s.trim()).filter(Boolean));
}

/** The folder a file belongs to: the first directory under src/ ("cli" for src/cli/bench/x.ts), "tasks" or "web". */
function folderOf(path: string): string | null {
  if (path.startsWith("web/src/")) return "web";
  if (path.startsWith("tasks/")) return "tasks";
  const m = path.match(/^src\/([^/]+)\//);
  return m ? m[1] : null;
}

const DENO_ONLY_FOLDERS = new Set(["cli", "server"]);
const isDenoOnly = (path: string) => DENO_ONLY_FOLDERS.has(folderOf(path) ?? "") || /(^|\/)deno_[^/]*\.ts$/.test(path);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(new URL(rel, ROOT))) {
      const path = `${rel}${e.name}`;
      if (e.isDirectory) await walk(`${path}/`);
      else if (e.name.endsWith(".ts")) out.push(path);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Relative module specifiers a file imports: static and dynamic imports, re-exports, worker/module URLs. */
export function importedPaths(path: string, text: string): string[] {
  const code = text.replace(/^\s*\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
  const specs = [
    ...code.matchAll(/\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ...code.matchAll(/new URL\(\s*["']([^"']+\.ts)["']\s*,\s*import\.meta\.url\s*\)/g),
  ].map((m) => m[1]).filter((s) => s.startsWith("."));
  const dir = path.slice(0, path.lastIndexOf("/") + 1);
  return specs.map((s) => new URL(s, new URL(dir, "file:///")).pathname.slice(1));
}

export interface Violation {
  file: string;
  target: string;
  why: string;
}

export function checkImports(files: Map<string, string>, floors: string[][]): Violation[] {
  const floorOf = new Map(floors.flatMap((names, i) => names.map((n) => [n, i] as const)));
  const out: Violation[] = [];
  for (const [file, text] of files) {
    const from = folderOf(file)!;
    for (const target of importedPaths(file, text)) {
      const to = folderOf(target);
      if (to === null) continue; // kernels/, configs/: data, not code floors
      if (!floorOf.has(from) || !floorOf.has(to)) {
        out.push({ file, target, why: `folder ${!floorOf.has(from) ? from : to} is not in the import order of docs/project_structure.md` });
      } else if (from !== to && floorOf.get(to)! >= floorOf.get(from)!) {
        out.push({ file, target, why: `${from} → ${to} runs against the order (${to} is ${floorOf.get(to) === floorOf.get(from) ? "on the same floor as" : "above"} ${from})` });
      }
      if (!isDenoOnly(file) && isDenoOnly(target)) {
        out.push({ file, target, why: `${file} is bundled for the browser but ${target} is Deno-only` });
      }
    }
  }
  return out;
}

Deno.test("imports run one way: every arrow under src/ and web/src/ follows docs/project_structure.md's order", async () => {
  const floors = await importFloors();
  assert.ok(floors.length >= 8, `the order parsed from the docs: ${JSON.stringify(floors)}`);
  const files = new Map<string, string>();
  for (const f of [...await sourceFiles("src/"), ...await sourceFiles("tasks/"), ...await sourceFiles("web/src/")]) files.set(f, await Deno.readTextFile(new URL(f, ROOT)));
  const folders = new Set([...files.keys()].map((f) => folderOf(f)!));
  for (const f of folders) assert.ok(floors.flat().includes(f), `folder ${f} has no place in the import order of docs/project_structure.md`);
  const bad = checkImports(files, floors);
  assert.deepEqual(bad.map((v) => `${v.file} imports ${v.target}: ${v.why}`), []);
});

Deno.test("the import check catches a wrong-way import, a same-floor import and a Deno-only import in the browser bundle", () => {
  const floors = [["util"], ["gpu"], ["nn"], ["tokenizer", "data"], ["server"], ["cli", "web"]];
  const files = new Map([
    ["src/gpu/peak.ts", 'import { matmulOp } from "../nn/matmul.ts";'],
    ["src/data/loader.ts", 'import type { Tokenizer } from "../tokenizer/tokenizer.ts";'],
    ["web/src/api.ts", 'export type { RunSummary } from "../../src/server/runs.ts";'],
    ["src/nn/matmul.ts", 'import { grid1d } from "../gpu/grid.ts";\nconst w = new URL("../../kernels/matmul.wgsl", import.meta.url);'],
    ["src/tokenizer/pool.ts", 'const w = new Worker(new URL("./worker.ts", import.meta.url).href);\n// import { x } from "../cli/args.ts";'],
  ]);
  const bad = checkImports(files, floors).map((v) => `${v.file} → ${v.target}`);
  assert.deepEqual(bad, [
    "src/gpu/peak.ts → src/nn/matmul.ts",
    "src/data/loader.ts → src/tokenizer/tokenizer.ts",
    "web/src/api.ts → src/server/runs.ts",
  ]);
});
