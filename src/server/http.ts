// HTTP helpers of the lab server: JSON answers and errors, content types, and file
// responses that stream from disk with Range support (a 500 MB checkpoint is never read
// into memory).

/** An error answered as {"error": message} with `status`; the message says what to do. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const JSON_TYPE = "application/json";

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": JSON_TYPE, "cache-control": "no-store", ...headers } });
}

export function errorResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json({ error: message }, status, headers);
}

const MIME: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: JSON_TYPE,
  jsonl: "application/x-ndjson",
  map: JSON_TYPE,
  txt: "text/plain; charset=utf-8",
  tiktoken: "text/plain; charset=utf-8",
  wgsl: "text/plain; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  ico: "image/x-icon",
  webp: "image/webp",
  wasm: "application/wasm",
  woff: "font/woff",
  woff2: "font/woff2",
  safetensors: "application/octet-stream",
  parquet: "application/vnd.apache.parquet",
};

export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot >= 0 && MIME[name.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}

export type ByteRange = { start: number; end: number }; // inclusive end

/**
 * Reads a Range header against a file of `size` bytes: null → send the whole file (no
 * header, or several ranges, which we answer with the full body); a range → 206; throws
 * HttpError(416) when the header is malformed or cannot be satisfied.
 */
export function parseRange(header: string | null, size: number): ByteRange | null {
  if (header === null) return null;
  const unsatisfiable = (why: string): never => {
    throw new HttpError(416, `Range ${JSON.stringify(header.slice(0, 100))} ${why} (the file has ${size} bytes); send bytes=START-END, bytes=START- or bytes=-LENGTH`, {
      "content-range": `bytes */${size}`,
    });
  };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return unsatisfiable("is not a byte range");
  const specs = m[1].split(",").map((s) => s.trim());
  const ranges = specs.map((spec) => {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === "" && r[2] === "")) return unsatisfiable(`has a malformed part ${JSON.stringify(spec)}`);
    if (r[1] === "") {
      const n = Number(r[2]);
      if (n === 0 || size === 0) return unsatisfiable("asks for no bytes");
      return { start: Math.max(0, size - n), end: size - 1 };
    }
    const start = Number(r[1]);
    const end = r[2] === "" ? size - 1 : Number(r[2]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return unsatisfiable("is out of bounds");
    if (end < start) return unsatisfiable("ends before it starts");
    if (start >= size) return unsatisfiable("starts past the end");
    return { start, end: Math.min(end, size - 1) };
  });
  return ranges.length === 1 ? ranges[0] : null;
}

/** A stream of bytes [start, end] of a file open at `start`; closes the file when done or cancelled. */
function rangeStream(file: Deno.FsFile, start: number, end: number): ReadableStream<Uint8Array> {
  let pos = start;
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const want = Math.min(1 << 16, end + 1 - pos);
      if (want <= 0) {
        close();
        controller.close();
        return;
      }
      const buf = new Uint8Array(want);
      const n = await file.read(buf);
      if (n === null) { // the file shrank under us: end early rather than hang
        close();
        controller.close();
        return;
      }
      pos += n;
      controller.enqueue(buf.subarray(0, n));
      if (pos > end) {
        close();
        controller.close();
      }
    },
    cancel: close,
  });
}

/**
 * Answers GET/HEAD for a file already opened and checked by the caller (paths.ts
 * mustOpen): content-type, content-length, accept-ranges, ETag/Last-Modified, 304 for a
 * matching If-None-Match, 206/416 for Range. The bytes come from that open file, never
 * from a second open by name. The file is closed when the answer is done.
 */
export async function fileResponse(req: Request, opened: { file: Deno.FsFile; info: Deno.FileInfo }, name: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
  const { file, info } = opened;
  let handedOver = false;
  try {
    if (!info.isFile) throw new HttpError(404, `${name} is not a file`);
    const size = info.size;
    const mtime = info.mtime?.getTime() ?? 0;
    const etag = `W/"${size.toString(16)}-${Math.floor(mtime).toString(16)}"`;
    const headers: Record<string, string> = {
      "content-type": contentType(name),
      "accept-ranges": "bytes",
      etag,
      ...(info.mtime ? { "last-modified": info.mtime.toUTCString() } : {}),
      ...extraHeaders,
    };
    if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
    const range = parseRange(req.headers.get("range"), size);
    const head = req.method === "HEAD";
    if (range) {
      headers["content-range"] = `bytes ${range.start}-${range.end}/${size}`;
      headers["content-length"] = String(range.end - range.start + 1);
      if (head) return new Response(null, { status: 206, headers });
      await file.seek(range.start, Deno.SeekMode.Start);
      handedOver = true;
      return new Response(rangeStream(file, range.start, range.end), { status: 206, headers });
    }
    headers["content-length"] = String(size);
    if (head) return new Response(null, { status: 200, headers });
    handedOver = true;
    return new Response(rangeStream(file, 0, size - 1), { status: 200, headers });
  } finally {
    if (!handedOver) file.close();
  }
}
