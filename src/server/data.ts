// DENO-ONLY: what the lab serves for training in the tab: the parquet shards of the data
// directory (data/base_data, as `deno task train base` reads them) with the SHA-256 their
// manifest records, and the tokenizer (data/tokenizer). The page's loader reads the shards
// by byte ranges and checks each one's hash, so its batches are exactly those of Deno's
// loader. Every file goes through the contained-open helpers of paths.ts.
import type { DataInfo, DataShard } from "../formats/lab_api.ts";
import { HttpError } from "./http.ts";
import { checkName, listInside, mustOpen, type OpenedFile, readOpened, realPathOrNull } from "./paths.ts";

const TOKENIZER_FILES = ["tokenizer.json", "tokenizer.tiktoken", "token_bytes.json"];
const PREPARE_HINT = "run 'deno task data prepare' (the embedded corpus, no network) in the repository, then reload";
const TOKENIZER_HINT = "run 'deno task tok train --vocab 4096' (the tiny preset's vocabulary), then reload";

export class TrainingData {
  constructor(readonly dataDir: string, readonly tokenizerDir: string) {}

  private async root(dir: string, what: string, hint: string): Promise<string> {
    const real = await realPathOrNull(dir);
    if (!real) throw new HttpError(404, `${what} ${dir} does not exist; ${hint}`);
    return real;
  }

  /** SHA-256 per shard name from manifest.json or downloads.json (whichever the directory has). */
  private async hashes(root: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const file of ["manifest.json", "downloads.json"]) {
      const opened = await mustOpen(root, [file], file).catch(() => null);
      if (!opened) continue;
      try {
        const doc = JSON.parse(await readOpened(opened)) as { shards?: { name?: unknown; sha256?: unknown }[] };
        for (const s of doc.shards ?? []) if (typeof s.name === "string" && typeof s.sha256 === "string") out.set(s.name, s.sha256);
      } catch {
        // An unreadable manifest vouches for nothing; the page trains unverified and says so.
      }
      if (out.size) break;
    }
    return out;
  }

  async describe(): Promise<DataInfo> {
    const dataReal = await realPathOrNull(this.dataDir);
    const listed = dataReal ? await listInside(dataReal, []) : null;
    const files = listed?.ok ? listed.entries.filter((e) => e.isFile && e.name.endsWith(".parquet")).sort((a, b) => (a.name < b.name ? -1 : 1)) : [];
    const sha = dataReal ? await this.hashes(dataReal) : new Map<string, string>();
    const shards: DataShard[] = files.map((e) => ({ name: e.name, bytes: e.size ?? 0, sha256: sha.get(e.name) ?? null }));
    const tokReal = await realPathOrNull(this.tokenizerDir);
    const tokList = tokReal ? await listInside(tokReal, []) : null;
    const tokenizer = tokList?.ok ? tokList.entries.filter((e) => e.isFile && TOKENIZER_FILES.includes(e.name)).map((e) => e.name).sort() : [];
    let missing: string | null = null;
    if (shards.length < 2) missing = `${shards.length ? "only one shard" : "no parquet shards"} in ${this.dataDir} (the last one is validation): ${PREPARE_HINT}`;
    else if (!tokenizer.includes("tokenizer.json")) missing = `no tokenizer in ${this.tokenizerDir}: ${TOKENIZER_HINT}`;
    return { shards, tokenizer, missing };
  }

  async shard(name: string): Promise<OpenedFile> {
    checkName(name, "shard name");
    if (!name.endsWith(".parquet")) throw new HttpError(404, `shard ${JSON.stringify(name)}: the lab serves only the .parquet files of ${this.dataDir} (GET /api/data lists them)`);
    return await mustOpen(await this.root(this.dataDir, "the data directory", PREPARE_HINT), [name], `shard ${name} of ${this.dataDir}`, "GET /api/data lists the shards");
  }

  async tokenizerFile(name: string): Promise<OpenedFile> {
    checkName(name, "file name");
    if (!TOKENIZER_FILES.includes(name)) throw new HttpError(404, `tokenizer file ${JSON.stringify(name)}: the tokenizer's files are ${TOKENIZER_FILES.join(", ")}`);
    return await mustOpen(await this.root(this.tokenizerDir, "the tokenizer directory", TOKENIZER_HINT), [name], `${name} of ${this.tokenizerDir}`, TOKENIZER_HINT);
  }
}
