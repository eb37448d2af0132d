// A small zip reader: the central directory, and each entry's bytes for the two methods
// archives use in practice — stored (0) and deflate (8, through the platform's
// DecompressionStream("deflate-raw"), in Deno and browsers alike). Every extracted entry
// is checked against its CRC-32 and size, so a damaged archive is an error naming the
// entry, never wrong bytes. ZIP64 is read for the archive's directory and entry sizes.
// Encryption, multi-disk archives and other methods are refused with a clear message.
import { UserError } from "../util/errors.ts";

export class ZipError extends UserError {
  override name = "ZipError";
}

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the entry's local header in the archive. */
  localOffset: number;
  isDirectory: boolean;
}

const EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff, U16_MAX = 0xffff;

/** The entries of the archive's central directory. `where` names the file in errors. */
export function readZipDirectory(zip: Uint8Array, where: string): ZipEntry[] {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const bad = (what: string) => new ZipError(`${where}: not a readable zip archive (${what}); delete it and download it again`);
  // The end record sits in the last 22 bytes plus a comment of at most 64 KiB.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
    if (v.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad("no end-of-central-directory record: the file is truncated or not a zip");
  if (v.getUint16(eocd + 4, true) !== 0 || v.getUint16(eocd + 6, true) !== 0) throw bad("a multi-disk archive");
  let count = v.getUint16(eocd + 10, true);
  let dirSize = v.getUint32(eocd + 12, true);
  let dirOffset = v.getUint32(eocd + 16, true);
  if (count === U16_MAX || dirSize === U32_MAX || dirOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || v.getUint32(loc, true) !== ZIP64_LOCATOR) throw bad("ZIP64 sizes without a ZIP64 locator");
    const rec = Number(v.getBigUint64(loc + 8, true));
    if (rec + 56 > zip.length || v.getUint32(rec, true) !== ZIP64_EOCD) throw bad("a broken ZIP64 end record");
    count = Number(v.getBigUint64(rec + 32, true));
    dirSize = Number(v.getBigUint64(rec + 40, true));
    dirOffset = Number(v.getBigUint64(rec + 48, true));
  }
  if (dirOffset + dirSize > zip.length) throw bad(`the central directory (${dirSize} bytes at ${dirOffset}) runs past the end of the ${zip.length}-byte file`);
  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder();
  let p = dirOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > zip.length || v.getUint32(p, true) !== CENTRAL) throw bad(`central directory entry ${i} is damaged`);
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true), extraLen = v.getUint16(p + 30, true), commentLen = v.getUint16(p + 32, true);
    let localOffset = v.getUint32(p + 42, true);
    const name = decoder.decode(zip.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field (id 1): the 64-bit values, in this order, of the fields that are 0xFFFFFFFF.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = v.getUint16(e, true), len = v.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        const next = () => Number(v.getBigUint64((q += 8) - 8, true));
        if (size === U32_MAX) size = next();
        if (compressedSize === U32_MAX) compressedSize = next();
        if (localOffset === U32_MAX) localOffset = next();
      }
      e += 4 + len;
    }
    if (flags & 1) throw new ZipError(`${where}: entry ${name} is encrypted; this reader cannot open it`);
    entries.push({ name, method, compressedSize, size, crc32: v.getUint32(p + 16, true), localOffset, isDirectory: name.endsWith("/") });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of one entry, decompressed and checked against its CRC-32 and size. */
export async function readZipEntry(zip: Uint8Array, entry: ZipEntry, where: string): Promise<Uint8Array> {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const bad = (what: string) => new ZipError(`${where}: entry ${entry.name} ${what}; delete the archive and download it again`);
  const h = entry.localOffset;
  if (h + 30 > zip.length || v.getUint32(h, true) !== LOCAL) throw bad("has no local header where the directory says");
  const start = h + 30 + v.getUint16(h + 26, true) + v.getUint16(h + 28, true);
  const end = start + entry.compressedSize;
  if (end > zip.length) throw bad(`runs past the end of the file (${end} > ${zip.length} bytes): the archive is truncated`);
  const raw = zip.subarray(start, end);
  let out: Uint8Array;
  if (entry.method === 0) out = raw;
  else if (entry.method === 8) {
    try {
      const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      out = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (err) {
      throw bad(`does not inflate (${err instanceof Error ? err.message : err})`);
    }
  } else throw new ZipError(`${where}: entry ${entry.name} uses compression method ${entry.method}; only stored (0) and deflate (8) are read`);
  if (out.length !== entry.size) throw bad(`has ${out.length} bytes, the directory says ${entry.size}`);
  if (crc32(out) !== entry.crc32) throw bad("fails its CRC-32 check");
  return out;
}

let table: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, as zip uses). */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive of `files` (stored, or deflated with CompressionStream): for tests and small bundles. */
export async function writeZip(files: readonly { name: string; bytes: Uint8Array; deflate?: boolean }[]): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [], central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const data = f.deflate
      ? new Uint8Array(await new Response(new Blob([f.bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate-raw"))).arrayBuffer())
      : f.bytes;
    const fields = { method: f.deflate ? 8 : 0, crc: crc32(f.bytes), csize: data.length, size: f.bytes.length };
    const local = new Uint8Array(30 + name.length), lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL, true), lv.setUint16(4, 20, true), lv.setUint16(8, fields.method, true);
    lv.setUint32(14, fields.crc, true), lv.setUint32(18, fields.csize, true), lv.setUint32(22, fields.size, true), lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const dir = new Uint8Array(46 + name.length), dv = new DataView(dir.buffer);
    dv.setUint32(0, CENTRAL, true), dv.setUint16(4, 20, true), dv.setUint16(6, 20, true), dv.setUint16(10, fields.method, true);
    dv.setUint32(16, fields.crc, true), dv.setUint32(20, fields.csize, true), dv.setUint32(24, fields.size, true), dv.setUint16(28, name.length, true);
    dv.setUint32(42, offset, true);
    dir.set(name, 46);
    parts.push(local, data);
    central.push(dir);
    offset += local.length + data.length;
  }
  const dirSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22), ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD, true), ev.setUint16(8, files.length, true), ev.setUint16(10, files.length, true);
  ev.setUint32(12, dirSize, true), ev.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((s, a) => s + a.length, 0));
  let p = 0;
  for (const a of all) out.set(a, p), p += a.length;
  return out;
}
