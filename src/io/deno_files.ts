// Deno implementation of FileStore, plus the atomic-write helper the CLIs share.
import { FileNotFound, type FileStore } from "./files.ts";

let tmpCounter = 0;

/** Write `bytes` to `path` atomically: temp file in the same directory, fsync, rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}-${tmpCounter++}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < data.length) off += await file.write(data.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

export function denoFiles(root = "."): FileStore {
  const full = (p: string) => (p.startsWith("/") ? p : `${root}/${p}`);
  return {
    async read(path) {
      try {
        return await Deno.readFile(full(path));
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) throw new FileNotFound(full(path));
        throw err;
      }
    },
    writeAtomic: (path, bytes) => writeFileAtomic(full(path), bytes),
    async list(dir) {
      const names: string[] = [];
      try {
        for await (const e of Deno.readDir(full(dir))) names.push(e.name);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return [];
        throw err;
      }
      return names.sort();
    },
    async remove(path) {
      try {
        await Deno.remove(full(path));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    },
    async exists(path) {
      try {
        await Deno.stat(full(path));
        return true;
      } catch {
        return false;
      }
    },
  };
}
