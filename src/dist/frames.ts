// The wire between a data-parallel run's coordinator (rank 0) and its other ranks: frames
// over a byte stream (a child process's stdin/stdout). A frame is
//
//   "NCF1" | header bytes (u32 LE) | data bytes (f64 LE: gradients of a large model pass 4 GiB)
//          | header (UTF-8 JSON: {kind, ...}) | data (raw bytes: float32 gradients, weights, token ids)
//
// so the big arrays cross without JSON, and a reader can tell a frame from anything else a
// process might print by mistake (it stops with an error naming what it read instead).
import { UserError } from "../util/errors.ts";

const MAGIC = 0x3146434e; // "NCF1" little-endian
const PREFIX = 16;

export interface Frame {
  kind: string;
  /** The rest of the JSON header. */
  head: Record<string, unknown>;
  data: Uint8Array;
}

export class FrameError extends UserError {
  override name = "FrameError";
}

export function encodeFrame(kind: string, head: Record<string, unknown> = {}, data: Uint8Array = new Uint8Array(0)): Uint8Array[] {
  const json = new TextEncoder().encode(JSON.stringify({ ...head, kind }));
  const prefix = new Uint8Array(PREFIX);
  const v = new DataView(prefix.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, json.length, true);
  v.setFloat64(8, data.length, true);
  return data.length ? [prefix, json, data] : [prefix, json];
}

/** Reads frames from a stream of chunks; `from` names the other end in errors. */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private held = 0;
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private ended = false;

  constructor(stream: ReadableStream<Uint8Array>, private from: string) {
    this.reader = stream.getReader();
  }

  /** Exactly n bytes, or null at a clean end of the stream before any of them. */
  private async take(n: number): Promise<Uint8Array | null> {
    while (this.held < n && !this.ended) {
      const { value, done } = await this.reader.read();
      if (done) this.ended = true;
      else if (value.length) {
        this.chunks.push(value);
        this.held += value.length;
      }
    }
    if (this.held < n) {
      if (this.held === 0) return null;
      throw new FrameError(`${this.from}: the stream ended inside a frame (${this.held} of ${n} bytes)`);
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0], m = Math.min(c.length, n - off);
      out.set(c.subarray(0, m), off);
      off += m;
      if (m === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(m);
    }
    this.held -= n;
    return out;
  }

  /** The next frame, or null when the other end closed the stream between frames. */
  async next(): Promise<Frame | null> {
    const prefix = await this.take(PREFIX);
    if (!prefix) return null;
    const v = new DataView(prefix.buffer);
    if (v.getUint32(0, true) !== MAGIC) {
      const text = new TextDecoder().decode(prefix).replace(/[^\x20-\x7e]/g, "?");
      throw new FrameError(`${this.from}: expected a frame, got ${JSON.stringify(text)} (something printed to the frame stream)`);
    }
    const headLen = v.getUint32(4, true), dataLen = v.getFloat64(8, true);
    if (!Number.isSafeInteger(dataLen) || dataLen < 0) throw new FrameError(`${this.from}: a frame announces ${dataLen} data bytes`);
    const headBytes = (await this.take(headLen)) ?? new Uint8Array(0);
    let head: Record<string, unknown>;
    try {
      head = JSON.parse(new TextDecoder().decode(headBytes));
    } catch {
      throw new FrameError(`${this.from}: a frame's header is not JSON`);
    }
    const data = dataLen ? await this.take(dataLen) : new Uint8Array(0);
    if (!data) throw new FrameError(`${this.from}: the stream ended before a frame's ${dataLen} data bytes`);
    const { kind, ...rest } = head;
    if (typeof kind !== "string") throw new FrameError(`${this.from}: a frame without a kind`);
    return { kind, head: rest, data };
  }
}

/** Float32 view of frame data (copied when unaligned). */
export function f32Of(data: Uint8Array): Float32Array {
  if (data.byteOffset % 4 === 0) return new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  return new Float32Array(data.slice().buffer);
}

export const bytesOf = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
