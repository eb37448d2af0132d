// A read-only FileStore over files the user picked (<input webkitdirectory>) or dropped
// (a folder or loose files): paths are the files' relative paths. findModel() locates the
// checkpoint (model.safetensors + meta.json) and the tokenizer (tokenizer.json) in it.
import { FileNotFound, type FileStore } from "../../src/io/files.ts";

export interface LocalModelPaths {
  checkpointDir: string;
  tokenizerDir: string;
  /** The folder's name, for the UI. */
  label: string;
}

const dirOf = (p: string) => (p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "");
const baseOf = (p: string) => p.slice(p.lastIndexOf("/") + 1);

export class LocalFilesStore implements FileStore {
  readonly files = new Map<string, File>();

  constructor(entries: Iterable<{ path: string; file: File }>) {
    for (const { path, file } of entries) this.files.set(normalize(path), file);
  }

  /** From an <input type=file webkitdirectory multiple> selection (or loose files). */
  static fromFileList(list: FileList | File[]): LocalFilesStore {
    return new LocalFilesStore([...list].map((file) => ({ path: file.webkitRelativePath || file.name, file })));
  }

  /** From a drop: folders are walked (webkitGetAsEntry), loose files keep their names. */
  static async fromDataTransfer(dt: DataTransfer): Promise<LocalFilesStore> {
    const entries: { path: string; file: File }[] = [];
    const items = [...dt.items].filter((i) => i.kind === "file");
    const roots = items.map((i) => i.webkitGetAsEntry?.() ?? null);
    if (roots.length && roots.every((e) => e !== null)) {
      for (const root of roots) await walk(root!, entries);
    } else {
      for (const file of [...dt.files]) entries.push({ path: file.name, file });
    }
    return new LocalFilesStore(entries);
  }

  get size(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.size;
    return n;
  }

  async read(path: string): Promise<Uint8Array> {
    const file = this.files.get(normalize(path));
    if (!file) throw new FileNotFound(path, "not among the files you chose");
    return new Uint8Array(await file.arrayBuffer());
  }

  writeAtomic(path: string): Promise<void> {
    return Promise.reject(new Error(`files you chose are read-only here (tried to write ${path})`));
  }

  list(dir: string): Promise<string[]> {
    const d = normalize(dir);
    const names = new Set<string>();
    for (const p of this.files.keys()) {
      if (d === "" ? true : p.startsWith(d + "/")) {
        const rest = d === "" ? p : p.slice(d.length + 1);
        names.add(rest.split("/")[0]);
      }
    }
    return Promise.resolve([...names].sort());
  }

  exists(path: string): Promise<boolean> {
    const p = normalize(path);
    return Promise.resolve(this.files.has(p) || [...this.files.keys()].some((k) => k.startsWith(p + "/")));
  }

  /**
   * Where the model is: the folder holding model.safetensors and meta.json (the
   * shallowest, or the highest step_NNNNNN when there are several), and tokenizer.json in
   * the same folder, a tokenizer/ folder beside or above it, or anywhere. Throws with what
   * is missing.
   */
  findModel(): LocalModelPaths {
    const paths = [...this.files.keys()];
    const modelDirs = paths.filter((p) => baseOf(p) === "model.safetensors").map(dirOf)
      .filter((d) => this.files.has(d ? `${d}/meta.json` : "meta.json"));
    const missing: string[] = [];
    if (!modelDirs.length) {
      if (!paths.some((p) => baseOf(p) === "model.safetensors")) missing.push("model.safetensors");
      if (!paths.some((p) => baseOf(p) === "meta.json")) missing.push("meta.json");
      if (!missing.length) missing.push("meta.json next to model.safetensors");
    }
    const tokPaths = paths.filter((p) => baseOf(p) === "tokenizer.json");
    if (!tokPaths.length) missing.push("tokenizer.json");
    if (missing.length) {
      throw new Error(
        `the chosen files lack ${missing.join(" and ")}. Choose a checkpoint folder (runs/<run>/checkpoints/step_NNNNNN) ` +
          `together with the run's tokenizer (runs/<run>/tokenizer/tokenizer.json), e.g. the whole runs/<run> folder. ` +
          `Got: ${paths.slice(0, 8).join(", ")}${paths.length > 8 ? ", …" : ""}`,
      );
    }
    modelDirs.sort((a, b) => stepOf(b) - stepOf(a) || a.split("/").length - b.split("/").length);
    const checkpointDir = modelDirs[0];
    // Prefer the tokenizer closest to the checkpoint.
    const score = (t: string) => {
      const td = dirOf(t);
      if (td === checkpointDir) return 0;
      let up = checkpointDir;
      for (let depth = 1; up !== ""; depth++) {
        up = dirOf(up);
        if (td === (up ? `${up}/tokenizer` : "tokenizer") || td === up) return depth;
      }
      return 100;
    };
    tokPaths.sort((a, b) => score(a) - score(b));
    const root = paths[0]?.split("/")[0] ?? "";
    return { checkpointDir, tokenizerDir: dirOf(tokPaths[0]), label: paths[0]?.includes("/") ? root : (checkpointDir || "chosen files") };
  }
}

function stepOf(dir: string): number {
  const m = /step_(\d+)$/.exec(dir);
  return m ? Number(m[1]) : -1;
}

function normalize(p: string): string {
  return p.replace(/\\/g, "/").replace(/^\.?\/+/, "").replace(/\/+$/, "").replace(/\/{2,}/g, "/");
}

async function walk(entry: FileSystemEntry, out: { path: string; file: File }[]): Promise<void> {
  const path = entry.fullPath.replace(/^\/+/, "");
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path, file });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break; // readEntries answers in batches until an empty one
    for (const child of batch) await walk(child, out);
  }
}
