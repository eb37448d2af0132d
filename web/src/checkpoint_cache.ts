// Downloaded checkpoint and tokenizer files, kept in IndexedDB (idb-keyval) by URL, so a
// model opens again without downloading it again. Each file is two keys: "file:<url>" →
// its bytes, "meta:<url>" → size, ETag and when it was saved (the size total is summed
// from the metas, never by loading the bytes). The HTTP store revalidates with the ETag.
import { clear, createStore, del, getMany, keys, set, type UseStore } from "idb-keyval";

export interface CachedMeta {
  url: string;
  size: number;
  etag: string | null;
  lastModified: string | null;
  savedAt: string;
}

export const CACHE_CHANGED = "nanochat-cache-changed";

export class CheckpointCache {
  private store: UseStore | null;
  /** Why the cache is off (no IndexedDB, e.g. a private window), or null. */
  readonly disabledReason: string | null;

  constructor(dbName = "nanochat-lab-cache") {
    if (typeof indexedDB === "undefined") {
      this.store = null;
      this.disabledReason = "this browser gives the page no IndexedDB";
    } else {
      this.store = createStore(dbName, "files");
      this.disabledReason = null;
    }
  }

  async get(url: string): Promise<{ meta: CachedMeta; bytes: Uint8Array } | null> {
    if (!this.store) return null;
    try {
      const [meta, bytes] = await getMany<unknown>([`meta:${url}`, `file:${url}`], this.store);
      if (!meta || !(bytes instanceof Uint8Array)) return null;
      return { meta: meta as CachedMeta, bytes };
    } catch {
      return null;
    }
  }

  /** Saves a file; a full quota (or any IndexedDB failure) only means it is not cached. */
  async put(url: string, bytes: Uint8Array, etag: string | null, lastModified: string | null): Promise<boolean> {
    if (!this.store) return false;
    const meta: CachedMeta = { url, size: bytes.byteLength, etag, lastModified, savedAt: new Date().toISOString() };
    try {
      await set(`file:${url}`, bytes, this.store);
      await set(`meta:${url}`, meta, this.store);
      changed();
      return true;
    } catch (err) {
      console.warn(`not caching ${url}: ${(err as Error).message}`);
      await del(`file:${url}`, this.store).catch(() => {});
      return false;
    }
  }

  async remove(url: string): Promise<void> {
    if (!this.store) return;
    await del(`file:${url}`, this.store);
    await del(`meta:${url}`, this.store);
    changed();
  }

  async list(): Promise<CachedMeta[]> {
    if (!this.store) return [];
    const metaKeys = (await keys<string>(this.store)).filter((k) => typeof k === "string" && k.startsWith("meta:"));
    const metas = await getMany<CachedMeta | undefined>(metaKeys, this.store);
    return metas.filter((m): m is CachedMeta => !!m);
  }

  async totalBytes(): Promise<{ bytes: number; files: number }> {
    const metas = await this.list();
    return { bytes: metas.reduce((a, m) => a + m.size, 0), files: metas.length };
  }

  async clear(): Promise<void> {
    if (!this.store) return;
    await clear(this.store);
    changed();
  }
}

function changed(): void {
  globalThis.dispatchEvent?.(new CustomEvent(CACHE_CHANGED));
}

export const checkpointCache = new CheckpointCache();
