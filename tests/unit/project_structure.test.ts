// docs/project_structure.md lists the layout file for file: every file under src/,
// web/src/, kernels/ and configs/ has a row, and every file a row names exists.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** Files the table's first column names: `dir/a.ts`, `b.ts` means dir/a.ts and dir/b.ts. */
export function documentedFiles(doc: string): Set<string> {
  const out = new Set<string>();
  for (const line of doc.split("\n")) {
    if (!line.startsWith("| `")) continue;
    const first = line.split("|")[1];
    const names = [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const dir = names[0].includes("/") ? names[0].slice(0, names[0].lastIndexOf("/") + 1) : "";
    for (const n of names) if (!n.endsWith("/")) out.add(n.includes("/") ? n : dir + n);
  }
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(new URL(rel, ROOT))) {
      if (e.isDirectory) await walk(`${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(dir);
  return out;
}

Deno.test("docs/project_structure.md has a row for every file of src/, tasks/, web/, kernels/ and configs/, and only for files that exist", async () => {
  const documented = documentedFiles(await Deno.readTextFile(new URL("docs/project_structure.md", ROOT)));
  const actual = ["web/index.html", ...(await Promise.all(["src/", "tasks/", "web/src/", "kernels/", "configs/"].map(filesUnder))).flat()];
  assert.deepEqual(actual.filter((f) => !documented.has(f)).sort(), [], "files without a row in docs/project_structure.md");
  const exists = async (f: string) => await Deno.stat(new URL(f, ROOT)).then(() => true, () => false);
  const stale = [];
  for (const f of documented) if (!(await exists(f))) stale.push(f);
  assert.deepEqual(stale.sort(), [], "rows naming files that do not exist");
});
