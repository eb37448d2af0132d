// ZIP archives: PyTorch's (torch.save's "zip checkpoint" format, which nanochat's .pt
// files use: every entry stored uncompressed, data aligned to 64 bytes so a reader can
// map tensors in place, ZIP64 records once an offset passes 4 GiB) and CORE's eval
// bundle (deflated entries, as Python's zipfile writes them).
//
// The reader works from a random-access byte source (a file handle, or bytes in memory)
// and reads the central directory first, then only the entries asked for, so a 2 GB
// checkpoint is never held twice. Every entry's CRC-32 is checked: a truncated or
// corrupt file is refused naming the entry, never half-read. Deflated entries (a zip
// re-packed by another tool) are inflated with DecompressionStream ("deflate-raw").
//
// Runtime-agnostic: no Deno APIs (the CLI passes a file-backed ByteSource).
import { UserError } from "../util/errors.ts";

export class ZipError extends UserError {
  override name = "ZipError";
}

/** Random access to a file's bytes; `read` returns exactly `length` bytes or fewer at the end. */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (off, len) => Promise.resolve(bytes.subarray(off, Math.min(bytes.length, off + len))) };
}

// ---------------------------------------------------------------- CRC-32 (IEEE, as zip uses)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 continued over `bytes` (start with 0). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------- reading

export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflate
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50, SIG_EOCD64 = 0x06064b50, SIG_LOC64 = 0x07064b50, SIG_CEN = 0x02014b50, SIG_LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff, U16_MAX = 0xffff;

async function readExact(src: ByteSource, offset: number, length: number, what: string, file: string): Promise<DataView> {
  if (offset < 0 || offset + length > src.size) throw new ZipError(`${file}: ${what} lies past the end of the file (${src.size} bytes): truncated?`);
  const b = await src.read(offset, length);
  if (b.length !== length) throw new ZipError(`${file}: could only read ${b.length} of ${length} bytes of ${what}: truncated?`);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

const big = (v: DataView, at: number, file: string): number => {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${file}: a ZIP64 size or offset (${n}) is too large`);
  return Number(n);
};

/** Lists the entries of a zip archive (from its central directory). */
export async function readZipDirectory(src: ByteSource, file = "zip"): Promise<ZipEntry[]> {
  // The end-of-central-directory record sits in the last 22 + up to 65,535 comment bytes.
  const tailLen = Math.min(src.size, 22 + U16_MAX);
  if (src.size < 22) throw new ZipError(`${file}: ${src.size} bytes is too short for a zip archive: not a readable zip archive (truncated?)`);
  const tail = await readExact(src, src.size - tailLen, tailLen, "the end record", file);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) if (tail.getUint32(i, true) === SIG_EOCD) { eocd = i; break; }
  if (eocd < 0) throw new ZipError(`${file}: not a readable zip archive (no zip end record found: truncated, or not a zip at all)`);
  let count = tail.getUint16(eocd + 10, true);
  let cdSize = tail.getUint32(eocd + 12, true);
  let cdOffset = tail.getUint32(eocd + 16, true);
  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    // ZIP64: a locator just before the end record points at the 64-bit end record.
    const locAt = src.size - tailLen + eocd - 20;
    const loc = await readExact(src, locAt, 20, "the ZIP64 locator", file);
    if (loc.getUint32(0, true) !== SIG_LOC64) throw new ZipError(`${file}: the ZIP64 locator is missing`);
    const rec = await readExact(src, big(loc, 8, file), 56, "the ZIP64 end record", file);
    if (rec.getUint32(0, true) !== SIG_EOCD64) throw new ZipError(`${file}: the ZIP64 end record is corrupt`);
    count = big(rec, 32, file);
    cdSize = big(rec, 40, file);
    cdOffset = big(rec, 48, file);
  }
  const cd = await readExact(src, cdOffset, cdSize, "the central directory", file);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || cd.getUint32(p, true) !== SIG_CEN) throw new ZipError(`${file}: central directory entry ${i} is corrupt`);
    const nameLen = cd.getUint16(p + 28, true), extraLen = cd.getUint16(p + 30, true), commentLen = cd.getUint16(p + 32, true);
    const name = new TextDecoder().decode(new Uint8Array(cd.buffer, cd.byteOffset + p + 46, nameLen));
    const e: ZipEntry = {
      name, method: cd.getUint16(p + 10, true), crc: cd.getUint32(p + 16, true),
      compressedSize: cd.getUint32(p + 20, true), size: cd.getUint32(p + 24, true), localHeaderOffset: cd.getUint32(p + 42, true),
    };
    // ZIP64 extra field (id 1): the 64-bit values, in this order, of the fields that read 0xFFFFFFFF.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cd.getUint16(x, true), len = cd.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        if (e.size === U32_MAX) e.size = big(cd, q, file), q += 8;
        if (e.compressedSize === U32_MAX) e.compressedSize = big(cd, q, file), q += 8;
        if (e.localHeaderOffset === U32_MAX) e.localHeaderOffset = big(cd, q, file);
      }
      x += 4 + len;
    }
    entries.push(e);
    p = xEnd + commentLen;
  }
  return entries;
}

async function inflateRaw(data: Uint8Array, name: string, file: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw new ZipError(`${file}: entry ${name} does not inflate (${(err as Error).message}): corrupt or truncated`);
  }
}

/** An entry's bytes, CRC-checked. */
export async function readZipEntry(src: ByteSource, e: ZipEntry, file = "zip"): Promise<Uint8Array> {
  const local = await readExact(src, e.localHeaderOffset, 30, `the header of ${e.name}`, file);
  if (local.getUint32(0, true) !== SIG_LOCAL) throw new ZipError(`${file}: the local header of ${e.name} is corrupt`);
  const dataAt = e.localHeaderOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  const raw = await readExact(src, dataAt, e.compressedSize, `the data of ${e.name}`, file);
  let data = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (e.method === 8) data = await inflateRaw(data, e.name, file);
  else if (e.method !== 0) throw new ZipError(`${file}: entry ${e.name} uses compression method ${e.method}; only stored and deflated entries are read`);
  if (data.length !== e.size) throw new ZipError(`${file}: entry ${e.name} holds ${data.length} bytes, its directory says ${e.size}`);
  if (crc32(data) !== e.crc) throw new ZipError(`${file}: entry ${e.name} fails its CRC-32 check: the file is corrupt`);
  return data;
}

// ---------------------------------------------------------------- writing

/** Local header + data offset alignment PyTorch uses (its reader maps storages at 64 bytes). */
export const ZIP_ALIGN = 64;

/**
 * A stored zip of `files` as chunks to write in order (data arrays are not copied).
 * Each entry's local header carries a padding extra field so its data starts on a
 * 64-byte boundary, like PyTorch's writer; ZIP64 fields appear only where needed.
 */
export function zipChunks(files: readonly { name: string; data: Uint8Array }[]): Uint8Array[] {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const crc = crc32(f.data), size = f.data.length;
    const z64 = size >= U32_MAX || offset >= U32_MAX;
    const z64Local = z64 ? 20 : 0; // id, len, size, compressed size
    const pad = (ZIP_ALIGN - ((offset + 30 + name.length + z64Local + 4) % ZIP_ALIGN)) % ZIP_ALIGN;
    const head = new Uint8Array(30 + name.length + z64Local + 4 + pad);
    const h = new DataView(head.buffer);
    h.setUint32(0, SIG_LOCAL, true);
    h.setUint16(4, z64 ? 45 : 20, true);
    h.setUint32(14, crc, true);
    h.setUint32(18, z64 ? U32_MAX : size, true);
    h.setUint32(22, z64 ? U32_MAX : size, true);
    h.setUint16(26, name.length, true);
    h.setUint16(28, z64Local + 4 + pad, true);
    head.set(name, 30);
    let x = 30 + name.length;
    if (z64) {
      h.setUint16(x, 1, true), h.setUint16(x + 2, 16, true);
      h.setBigUint64(x + 4, BigInt(size), true), h.setBigUint64(x + 12, BigInt(size), true);
      x += 20;
    }
    h.setUint16(x, 0x4246, true), h.setUint16(x + 2, pad, true); // "FB" padding field, as PyTorch's
    chunks.push(head, f.data);
    // Central record: ZIP64 values for size, compressed size, offset when any is too large.
    const c64 = size >= U32_MAX || offset >= U32_MAX ? 28 : 0;
    const cen = new Uint8Array(46 + name.length + c64);
    const c = new DataView(cen.buffer);
    c.setUint32(0, SIG_CEN, true);
    c.setUint16(4, c64 ? 45 : 20, true), c.setUint16(6, c64 ? 45 : 20, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, c64 ? U32_MAX : size, true), c.setUint32(24, c64 ? U32_MAX : size, true);
    c.setUint16(28, name.length, true), c.setUint16(30, c64, true);
    c.setUint32(42, c64 ? U32_MAX : offset, true);
    cen.set(name, 46);
    if (c64) {
      const q = 46 + name.length;
      c.setUint16(q, 1, true), c.setUint16(q + 2, 24, true);
      c.setBigUint64(q + 4, BigInt(size), true), c.setBigUint64(q + 12, BigInt(size), true), c.setBigUint64(q + 20, BigInt(offset), true);
    }
    central.push(cen);
    offset += head.length + size;
  }
  const cdOffset = offset, cdSize = central.reduce((s, c) => s + c.length, 0), n = files.length;
  chunks.push(...central);
  const need64 = cdOffset + cdSize >= U32_MAX || n >= U16_MAX;
  if (need64) {
    const rec = new Uint8Array(56 + 20);
    const r = new DataView(rec.buffer);
    r.setUint32(0, SIG_EOCD64, true);
    r.setBigUint64(4, 44n, true);
    r.setUint16(12, 45, true), r.setUint16(14, 45, true);
    r.setBigUint64(24, BigInt(n), true), r.setBigUint64(32, BigInt(n), true);
    r.setBigUint64(40, BigInt(cdSize), true), r.setBigUint64(48, BigInt(cdOffset), true);
    r.setUint32(56, SIG_LOC64, true);
    r.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    r.setUint32(72, 1, true);
    chunks.push(rec);
  }
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, SIG_EOCD, true);
  e.setUint16(8, need64 ? U16_MAX : n, true), e.setUint16(10, need64 ? U16_MAX : n, true);
  e.setUint32(12, need64 ? U32_MAX : cdSize, true), e.setUint32(16, need64 ? U32_MAX : cdOffset, true);
  chunks.push(end);
  return chunks;
}

/** The chunks joined (tests, small files). */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) out.set(c, o), o += c.length;
  return out;
}
