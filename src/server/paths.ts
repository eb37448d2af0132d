// Safe paths for the lab server. Everything a request names (a run, a checkpoint file, a
// static asset) goes through here before it touches the disk:
//
//  1. the raw request path is split into segments and each is percent-decoded once;
//     ".", "..", empty segments, "/", "\" and NUL inside a segment are malformed (400);
//  2. a name must match SAFE_NAME (no dots first, no separators, 255 characters at most;
//     web build paths use the slightly wider ASSET_NAME, still without a leading dot);
//  3. after joining, the path is resolved with Deno.realPath and must still lie inside
//     the real path of its root, so a symlink that leads out of runs/ is refused (404).
//
// Deno hands the request target over as sent (no dot-segment normalisation), which is
// why the raw path is parsed here instead of with new URL().
import { HttpError } from "./http.ts";

/** A run, file or asset name: letters, digits, ".", "_", "-", starting with a letter or digit. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/**
 * A segment of a web build path. Vite/Rollup name chunks after modules, so a chunk may
 * start with "_" ("_commonjsHelpers-….js") or hold "@" or "~"; still never a leading dot,
 * a separator, a space or a control character.
 */
export const ASSET_NAME = /^[A-Za-z0-9_][A-Za-z0-9._~@-]*$/;
export const MAX_NAME_LENGTH = 255;

/** Checks one name from a request; `what` says what it is in the error ("run name", "file name"). */
export function checkName(name: string, what: string, pattern = SAFE_NAME): string {
  const shown = JSON.stringify(name.length > 80 ? name.slice(0, 80) + "…" : name);
  if (name.length > MAX_NAME_LENGTH) throw new HttpError(400, `${what} ${shown} is longer than ${MAX_NAME_LENGTH} characters`);
  if (!pattern.test(name)) {
    const first = pattern === SAFE_NAME ? "a letter or digit" : "a letter, digit or _";
    throw new HttpError(400, `${what} ${shown} is not allowed: use letters, digits, ".", "_" and "-" only, starting with ${first}`);
  }
  return name;
}

export interface RequestTarget {
  /** Decoded path segments ("/api/runs/x" → ["api", "runs", "x"]; "/" → []). */
  segments: string[];
  query: URLSearchParams;
  /** The raw path, for messages. */
  raw: string;
}

/**
 * Splits a request URL (as Deno gives it: not normalised) into decoded segments.
 * Throws HttpError(400) for anything a client should not send: dot segments (plain or
 * percent-encoded), backslashes, empty segments, encoded "/" or NUL, bad escapes.
 */
export function parseTarget(url: string): RequestTarget {
  const schemeEnd = url.indexOf("://");
  let rest = schemeEnd >= 0 ? url.slice(url.indexOf("/", schemeEnd + 3)) : url;
  if (schemeEnd >= 0 && url.indexOf("/", schemeEnd + 3) < 0) rest = "/";
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  const rawPath = q >= 0 ? rest.slice(0, q) : rest;
  const query = new URLSearchParams(q >= 0 ? rest.slice(q + 1) : "");
  const shown = JSON.stringify(rawPath.length > 120 ? rawPath.slice(0, 120) + "…" : rawPath);
  const bad = (why: string): never => {
    throw new HttpError(400, `malformed path ${shown}: ${why}`);
  };
  if (!rawPath.startsWith("/")) bad("it must start with /");
  if (rawPath.includes("\\")) bad("backslashes are not allowed");
  const parts = rawPath.slice(1).split("/");
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop(); // one trailing slash is fine
  const segments = parts.map((part) => {
    if (part === "") bad("empty path segments (//) are not allowed");
    let s: string;
    try {
      s = decodeURIComponent(part);
    } catch {
      return bad("it has an invalid percent-escape");
    }
    if (s === "." || s === "..") bad('"." and ".." segments are not allowed');
    if (s.includes("/") || s.includes("\\")) bad("a segment may not contain an encoded / or \\");
    if (s.includes("\0")) bad("NUL bytes are not allowed");
    return s;
  });
  return { segments, query, raw: rawPath };
}

/** realPath, or null when the path does not exist. */
export async function realPathOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return null;
    throw err;
  }
}

export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : root + "/");
}

/** Why a path could not be resolved: it does not exist, or it resolves outside its root. */
export type Resolved = { ok: true; path: string } | { ok: false; reason: "missing" | "outside" };

/**
 * Joins checked names onto a real root directory and resolves the result; it must exist
 * and stay inside `rootReal` after following every symlink.
 */
export async function resolveInside(rootReal: string, names: readonly string[], pattern = SAFE_NAME): Promise<Resolved> {
  for (const n of names) if (!pattern.test(n) || n.length > MAX_NAME_LENGTH) return { ok: false, reason: "missing" };
  const real = await realPathOrNull([rootReal, ...names].join("/"));
  if (real === null) return { ok: false, reason: "missing" };
  if (!isInside(rootReal, real)) return { ok: false, reason: "outside" };
  return { ok: true, path: real };
}

/** resolveInside, throwing HttpError(404) with `label` ("run 'x'", "file tokenizer/y") when it fails. */
export async function mustResolve(rootReal: string, names: readonly string[], label: string, hint = "", pattern = SAFE_NAME): Promise<string> {
  const r = await resolveInside(rootReal, names, pattern);
  if (r.ok) return r.path;
  if (r.reason === "outside") throw new HttpError(404, `${label} is a link that leads outside ${rootReal}; the lab server does not follow it`);
  throw new HttpError(404, `${label} not found${hint ? `; ${hint}` : ""}`);
}

// ---------------------------------------------------------------- opening without a race
//
// resolveInside checks a path, but the file is opened later by name: a directory swapped
// for a symlink in between would make the open read outside the root. So the files the
// server reads are opened first and then checked: the kernel's own name for the open file
// (/proc/self/fd/N, which no later swap can change) must lie inside the root. Where there
// is no /proc, the path is resolved again after the open and must lead to the same file
// (device + inode) inside the root.

export interface OpenedFile {
  file: Deno.FsFile;
  info: Deno.FileInfo;
  /** The real path the file was checked at. */
  path: string;
}

const sameFile = (a: Deno.FileInfo, b: Deno.FileInfo) => a.dev === b.dev && a.ino === b.ino && a.ino !== null;

/** This process's open descriptors on the file `info` describes, each with the path the kernel gives it; null without /proc. */
async function descriptorsOf(info: Deno.FileInfo): Promise<{ fd: string; target: string }[] | null> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir("/proc/self/fd"));
  } catch {
    return null;
  }
  const out: { fd: string; target: string }[] = [];
  for (const e of entries) {
    const fd = `/proc/self/fd/${e.name}`;
    const st = await Deno.stat(fd).catch(() => null);
    if (!st || !sameFile(st, info)) continue;
    const target = await Deno.readLink(fd).catch(() => null);
    if (target) out.push({ fd, target });
  }
  return out;
}

/**
 * Opens `names` under `rootReal` for reading and proves the opened file lies inside the
 * root (see above). "missing" when it does not exist; "outside" when it leads out.
 */
export async function openInside(rootReal: string, names: readonly string[], pattern = SAFE_NAME): Promise<{ ok: true; opened: OpenedFile } | { ok: false; reason: "missing" | "outside" }> {
  const r = await resolveInside(rootReal, names, pattern);
  if (!r.ok) return r;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(r.path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return { ok: false, reason: "missing" };
    throw err;
  }
  try {
    const info = await file.stat();
    const fds = await descriptorsOf(info);
    let inside: boolean;
    if (fds !== null) {
      inside = fds.some((d) => isInside(rootReal, d.target));
    } else {
      const again = await realPathOrNull([rootReal, ...names].join("/"));
      const st = again ? await Deno.stat(again).catch(() => null) : null;
      inside = again !== null && isInside(rootReal, again) && st !== null && sameFile(st, info);
    }
    if (!inside) {
      file.close();
      return { ok: false, reason: "outside" };
    }
    return { ok: true, opened: { file, info, path: r.path } };
  } catch (err) {
    file.close();
    throw err;
  }
}

// ---------------------------------------------------------------- listing without a race
//
// A listing by path has the same gap: the directory (or one above it) swapped for a link
// between the check and Deno.readDir lists a directory outside, and swapped back before a
// second check, nothing would notice. So the directory is opened first and proved inside
// like a file; the names are then read through the kernel's handle on that open directory
// (/proc/self/fd/N names the open directory itself, whatever the path now leads to), with
// the descriptor's identity checked before and after, synchronously so no other request of
// this process can close and reuse the descriptor in between. Without /proc it lists by
// path and keeps the result only if the path still leads to the same directory inside the
// root afterwards (a swap and a swap back within one listing would go unseen there).

export interface ListedEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  /** Size from lstat through the verified directory (files); null when not known. */
  size: number | null;
}

/** Descriptor paths of this process open on the file `info` describes at a path inside `rootReal`; null without /proc. */
async function fdsInside(rootReal: string, info: Deno.FileInfo): Promise<string[] | null> {
  const fds = await descriptorsOf(info);
  return fds && fds.filter((d) => isInside(rootReal, d.target)).map((d) => d.fd);
}

function entryOf(e: Deno.DirEntry, st: Deno.FileInfo | null): ListedEntry {
  return { name: e.name, isFile: e.isFile, isDirectory: e.isDirectory, isSymlink: e.isSymlink, size: st?.isFile ? st.size : null };
}

/**
 * Lists the directory `names` under `rootReal` (see above); "missing" when it does not
 * exist or is not a directory, "outside" when it leads out or changed while being listed.
 */
export async function listInside(rootReal: string, names: readonly string[]): Promise<{ ok: true; path: string; entries: ListedEntry[] } | { ok: false; reason: "missing" | "outside" }> {
  const r = await openInside(rootReal, names);
  if (!r.ok) return r;
  const { file, info, path } = r.opened;
  try {
    if (!info.isDirectory) return { ok: false, reason: "missing" };
    const fds = await fdsInside(rootReal, info);
    if (fds !== null) {
      for (const fd of fds) {
        // Synchronous from here to the end: no await lets another request close or reopen fd.
        const before = statOrNull(fd);
        if (!before || !sameFile(before, info)) continue;
        const entries = Deno.readDirSync(fd).map((e) => entryOf(e, lstatOrNull(`${fd}/${e.name}`))).toArray();
        const after = statOrNull(fd);
        if (after && sameFile(after, info)) return { ok: true, path, entries };
      }
      return { ok: false, reason: "outside" };
    }
    const entries: ListedEntry[] = [];
    try {
      for await (const e of Deno.readDir(path)) entries.push(entryOf(e, await Deno.lstat(`${path}/${e.name}`).catch(() => null)));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return { ok: false, reason: "outside" }; // moved away meanwhile
      throw err;
    }
    const again = await realPathOrNull([rootReal, ...names].join("/"));
    const st = again ? await Deno.stat(again).catch(() => null) : null;
    if (again === null || !isInside(rootReal, again) || st === null || !sameFile(st, info)) return { ok: false, reason: "outside" };
    return { ok: true, path, entries };
  } finally {
    file.close();
  }
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch {
    return null;
  }
}

/** openInside, throwing HttpError(404) with `label` as mustResolve does. */
export async function mustOpen(rootReal: string, names: readonly string[], label: string, hint = "", pattern = SAFE_NAME): Promise<OpenedFile> {
  const r = await openInside(rootReal, names, pattern);
  if (r.ok) return r.opened;
  if (r.reason === "outside") throw new HttpError(404, `${label} is a link that leads outside ${rootReal}; the lab server does not follow it`);
  throw new HttpError(404, `${label} not found${hint ? `; ${hint}` : ""}`);
}

/** The whole text of an opened file; closes it. */
export async function readOpened(o: OpenedFile): Promise<string> {
  try {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(1 << 16);
    for (let n; (n = await o.file.read(buf)) !== null;) chunks.push(buf.slice(0, n));
    return new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  } finally {
    o.file.close();
  }
}
