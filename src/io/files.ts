// The small file interface the runtime-agnostic library uses. Deno code passes
// denoFiles (src/io/deno_files.ts); the browser passes an implementation built on
// fetch + IndexedDB. Paths are '/'-separated strings relative to the store's root.
import { UserError } from "../util/errors.ts";

export interface FileStore {
  /** Whole file as bytes; rejects with FileNotFound when it does not exist. */
  read(path: string): Promise<Uint8Array>;
  /** Writes through a temporary file and a rename: readers see the old or the new file, never half of one. */
  writeAtomic(path: string, bytes: Uint8Array): Promise<void>;
  /** Names directly inside a directory (sorted); [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Deletes a file; no error when it is already gone. Optional: read-only stores omit it. */
  remove?(path: string): Promise<void>;
}

export class FileNotFound extends UserError {
  override name = "FileNotFound";
  constructor(readonly path: string, hint = "") {
    super(`file not found: ${path}${hint ? ` (${hint})` : ""}`);
  }
}
