// DENO-ONLY: the reference's CORE eval bundle on disk — fetched, verified, unpacked, read.
//
//   <dir>/eval_bundle.zip          the download (resumable through .partial, via
//                                  data/deno_download.ts; it must read as a zip with a core.yaml)
//   <dir>/eval_bundle.zip.sha256   SHA-256 of what was downloaded, recorded the first time
//                                  (no published hash exists to pin): later --download-bundle
//                                  runs check the cached zip against it
//   <dir>/eval_bundle/             the unpacked files (every entry CRC-checked on the way
//                                  out), with .manifest.json: the zip's hash and each file's
//                                  size and CRC-32, checked whenever a file is read
// A directory that holds core.yaml itself (an unpacked copy, e.g. nanochat's
// ~/.cache/nanochat/eval_bundle) is used as it is.
import { downloadFile, type FetchOptions } from "../data/deno_download.ts";
import { sha256Hex } from "../data/prepare.ts";
import { bytesSource, crc32, readZipDirectory, readZipEntry, type ZipEntry } from "../formats/zip.ts";
import { writeFileAtomic } from "../io/deno_files.ts";
import { CoreError } from "./core.ts";
import { assembleCoreTasks, type CoreTask } from "./core_bundle.ts";

export const EVAL_BUNDLE_URL = "https://karpathy-public.s3.us-west-2.amazonaws.com/eval_bundle.zip";
export const DEFAULT_BUNDLE_DIR = "data/eval_bundle";
export const DOWNLOAD_COMMAND = "deno task eval base --download-bundle";
const ZIP = "eval_bundle.zip", HASH = "eval_bundle.zip.sha256", UNPACKED = "eval_bundle", MANIFEST = ".manifest.json";

interface Manifest {
  url: string;
  zip_sha256: string;
  files: Record<string, { size: number; crc32: number }>;
}

/** The command that fetches the bundle into dir. */
export function downloadCommand(dir: string): string {
  return `${DOWNLOAD_COMMAND}${dir === DEFAULT_BUNDLE_DIR ? "" : ` --bundle-dir ${dir}`}`;
}

/** What to do without the bundle: the URL, where it goes, the command that fetches it. */
export function bundleHint(dir: string): string {
  return `CORE needs the eval bundle (~162 MB): '${downloadCommand(dir)}' fetches ${EVAL_BUNDLE_URL} into ${dir}/ and unpacks it. ` +
    `Without network access, fetch that URL elsewhere, copy it to ${dir}/${ZIP} and run the same command.`;
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** The directory inside the archive that holds core.yaml (the shallowest one), as an entry-name prefix. */
function bundlePrefix(entries: readonly ZipEntry[], where: string): string {
  const yaml = entries.filter((e) => !e.name.endsWith("/") && (e.name === "core.yaml" || e.name.endsWith("/core.yaml")) && !e.name.startsWith("__MACOSX/"));
  if (!yaml.length) throw new CoreError(`${where}: the archive has no core.yaml, so it is not the CORE eval bundle; delete it and run '${DOWNLOAD_COMMAND}'`);
  yaml.sort((a, b) => a.name.split("/").length - b.name.split("/").length);
  return yaml[0].name.slice(0, -"core.yaml".length);
}

/** Throws unless the file reads as a zip archive holding a core.yaml (the download's check). */
export async function verifyBundleZip(path: string): Promise<void> {
  bundlePrefix(await readZipDirectory(bytesSource(await Deno.readFile(path)), path), path);
}

/** Unpacks the bundle's files (below the core.yaml prefix) into dest, every entry CRC-checked; returns the manifest's file table. */
async function unpack(zip: Uint8Array, where: string, dest: string): Promise<Manifest["files"]> {
  const src = bytesSource(zip);
  const entries = await readZipDirectory(src, where);
  const prefix = bundlePrefix(entries, where);
  const files: Manifest["files"] = {};
  for (const e of entries) {
    if (e.name.endsWith("/") || !e.name.startsWith(prefix)) continue;
    const rel = e.name.slice(prefix.length);
    if (rel.startsWith("/") || rel.split("/").some((s) => s === ".." || s === "") || rel.startsWith("__MACOSX/")) continue;
    const bytes = await readZipEntry(src, e, where);
    const path = `${dest}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, bytes);
    files[rel] = { size: bytes.length, crc32: e.crc };
  }
  return files;
}

/**
 * Fetches the bundle into `dir` unless it is there, checks the zip against the hash recorded
 * at its first download (recording it the first time), and unpacks it unless the unpacked
 * copy came from this very zip. Resolves to the unpacked directory and the zip's SHA-256.
 */
export async function downloadBundle(dir: string, opts: FetchOptions & { url?: string; log?: (line: string) => void } = {}): Promise<{ root: string; sha256: string }> {
  const url = opts.url ?? EVAL_BUNDLE_URL, log = opts.log ?? ((l: string) => console.error(l));
  const zipPath = `${dir}/${ZIP}`;
  await downloadFile(url, zipPath, { ...opts, verify: verifyBundleZip, offlineHint: `Without network access, fetch ${url} on another machine, copy it to ${zipPath} and run '${downloadCommand(dir)}' again` });
  const zip = await Deno.readFile(zipPath);
  const sha256 = await sha256Hex(zip);
  const hashPath = `${dir}/${HASH}`;
  const recorded = (await exists(hashPath)) ? (await Deno.readTextFile(hashPath)).trim().split(/\s+/)[0] : null;
  if (recorded && recorded !== sha256) {
    throw new CoreError(
      `${zipPath} has SHA-256 ${sha256}, but ${hashPath} records ${recorded} from its first download: the file changed. ` +
        `Delete ${zipPath} to fetch it again, or delete ${hashPath} if you trust the new file.`,
    );
  }
  if (!recorded) await writeFileAtomic(hashPath, `${sha256}  ${ZIP}\n`);
  const root = `${dir}/${UNPACKED}`;
  const old = await readManifest(root);
  if (old?.zip_sha256 === sha256 && (await checkFiles(root, old)) === null) return { root, sha256 };
  log(`unpacking ${zipPath} into ${root}/`);
  const tmp = `${root}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  const files = await unpack(zip, zipPath, tmp);
  await Deno.writeTextFile(`${tmp}/${MANIFEST}`, JSON.stringify({ url, zip_sha256: sha256, files } satisfies Manifest, null, 1) + "\n");
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, root);
  return { root, sha256 };
}

async function readManifest(root: string): Promise<Manifest | null> {
  try {
    const m = JSON.parse(await Deno.readTextFile(`${root}/${MANIFEST}`)) as Manifest;
    return m && typeof m.zip_sha256 === "string" && m.files && typeof m.files === "object" ? m : null;
  } catch {
    return null;
  }
}

/** The first unpacked file whose size or CRC-32 differs from the manifest's (or that is gone), or null. */
async function checkFiles(root: string, m: Manifest): Promise<string | null> {
  for (const [rel, f] of Object.entries(m.files)) {
    const bytes = await Deno.readFile(`${root}/${rel}`).catch(() => null);
    if (!bytes || bytes.length !== f.size || crc32(bytes) !== f.crc32) return rel;
  }
  return null;
}

/** Where the bundle's files are under `dir` (the unpacked download, or dir itself if it holds core.yaml), or null. */
export async function findBundle(dir: string): Promise<{ root: string; manifest: Manifest | null } | null> {
  const root = `${dir}/${UNPACKED}`;
  const manifest = await readManifest(root);
  if (manifest) return { root, manifest };
  if (await exists(`${dir}/core.yaml`)) return { root: dir, manifest: null };
  return null;
}

/** CORE's tasks (all, or `only`) from the bundle under `dir`; a CoreError says what to do when it is missing or damaged. */
export async function loadCoreBundle(dir: string, only?: readonly string[]): Promise<{ root: string; sha256: string | null; tasks: CoreTask[] }> {
  const found = await findBundle(dir);
  if (!found) throw new CoreError(`no eval bundle in ${dir}/. ${bundleHint(dir)}`);
  const { root, manifest } = found;
  const fix = manifest
    ? `the unpacked bundle is damaged: delete ${root}/ and run '${downloadCommand(dir)}' to unpack it again`
    : `replace ${root}/ with a good copy of the eval bundle (or point --bundle-dir at a directory to download it into)`;
  // Each file read is checked against the manifest's size and CRC-32 (the bytes are read anyway).
  const read = async (rel: string): Promise<string | null> => {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(`${root}/${rel}`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
    const want = manifest?.files[rel];
    if (manifest && (!want || want.size !== bytes.length || want.crc32 !== crc32(bytes))) {
      throw new CoreError(`${root}/${rel}: ${want ? "does not match the manifest's size and CRC-32" : "is not in the manifest"}; ${fix}`);
    }
    return new TextDecoder().decode(bytes);
  };
  const yaml = await read("core.yaml"), csv = await read("eval_meta_data.csv");
  if (yaml === null) throw new CoreError(`${root}/core.yaml: missing; ${fix}`);
  if (csv === null) throw new CoreError(`${root}/eval_meta_data.csv: missing; ${fix}`);
  const tasks = await assembleCoreTasks(yaml, csv, {
    yamlName: `${root}/core.yaml`,
    csvName: `${root}/eval_meta_data.csv`,
    readData: (uri) => read(`eval_data/${uri}`),
    dataName: (uri) => `${root}/eval_data/${uri}`,
  }, fix, only);
  return { root, sha256: manifest?.zip_sha256 ?? null, tasks };
}
