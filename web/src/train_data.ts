// What the Train tab's worker reads from the lab server: GET /api/data (the shards and
// tokenizer on offer), the tokenizer as a read-only FileStore, and the shards by name — a
// shard whose manifest records a SHA-256 is fetched whole once and checked before any of its
// rows reach the loader (as Deno's loader checks local shards), the others read by ranges.
import { DataError } from "../../src/data/errors.ts";
import { sha256Hex } from "../../src/data/prepare.ts";
import { bytesSource, type ShardSource, urlSource } from "../../src/data/sources.ts";
import type { DataInfo } from "../../src/formats/lab_api.ts";
import { FileNotFound, type FileStore } from "../../src/io/files.ts";
import { UserError } from "../../src/util/errors.ts";

/** The lab server's tokenizer (GET /api/data/tokenizer/<file>) as a read-only FileStore. */
export const serverTokenizer: FileStore = {
  async read(path) {
    const name = path.slice(path.lastIndexOf("/") + 1);
    const res = await fetch(`/api/data/tokenizer/${encodeURIComponent(name)}`);
    if (res.status === 404) throw new FileNotFound(path, "the lab server's tokenizer directory has no such file");
    if (!res.ok) throw new UserError(`GET /api/data/tokenizer/${name}: ${res.status} ${await res.text()}`);
    return new Uint8Array(await res.arrayBuffer());
  },
  exists: async (path) => (await fetch(`/api/data/tokenizer/${encodeURIComponent(path.slice(path.lastIndexOf("/") + 1))}`, { method: "HEAD" })).ok,
  list: () => Promise.resolve([]),
  writeAtomic: () => Promise.reject(new UserError("the lab server's tokenizer is read-only")),
};

/** Opens shards by name from the server: a shard with a recorded SHA-256 is fetched whole once and checked. */
export function shardOpener(data: DataInfo, base: string): (name: string) => Promise<ShardSource> {
  const checked = new Map<string, Promise<Uint8Array>>();
  return (name) => {
    const shard = data.shards.find((s) => s.name === name);
    const url = new URL(`/api/data/shards/${encodeURIComponent(name)}`, base);
    if (!shard?.sha256) return urlSource(url);
    let bytes = checked.get(name);
    if (!bytes) {
      bytes = (async () => {
        const res = await fetch(url);
        if (!res.ok) throw new DataError(`${name}: the lab server answered ${res.status} (${await res.text()})`, name);
        const b = new Uint8Array(await res.arrayBuffer());
        if (await sha256Hex(b) !== shard.sha256) {
          throw new DataError(`${name}: its contents do not match the SHA-256 its manifest records (corrupt or changed); rebuild the shards with 'deno task data prepare'`, name);
        }
        return b;
      })();
      bytes.catch(() => checked.delete(name));
      checked.set(name, bytes);
    }
    return bytes.then((b) => bytesSource(b, name));
  };
}

export async function dataInfo(): Promise<DataInfo> {
  const res = await fetch("/api/data");
  if (!res.ok) throw new UserError(`GET /api/data: the lab server answered ${res.status} (${await res.text()}); is it 'deno task lab'?`);
  const info = await res.json() as DataInfo;
  if (info.missing) throw new UserError(`no training data: ${info.missing}`);
  return info;
}

