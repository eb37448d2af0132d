// Writing pickle streams: just the structures torch.save and pickle.dump produce for a
// tensor state dict, an optimizer's state_dict() and a tiktoken Encoding, so that
// Python (torch.load(weights_only=True), pickle.load) reads them back.
//
// The value tree uses the reader's classes (PyTuple, PyDict, PyGlobal) plus the nodes
// below for what is not plain data: floats that look like integers, calls (REDUCE),
// objects with state (NEWOBJ + BUILD), OrderedDicts and persistent ids. No memo is
// written: every value is emitted where it appears (readers do not need memo entries).
//
// Runtime-agnostic.
import { PickleError, PyDict, PyGlobal, PyTuple } from "./pickle.ts";

/** A Python float (so 1.0 is written as a float, not the int 1). */
export class PyFloat {
  constructor(readonly value: number) {}
}
/** `module.name(*args)`: GLOBAL, args tuple, REDUCE. */
export class PyCall {
  constructor(readonly fn: PyGlobal, readonly args: PyOut[]) {}
}
/** `cls.__new__(cls)` then `__setstate__(state)`: how pickle saves a plain class instance. */
export class PyObjectState {
  constructor(readonly cls: PyGlobal, readonly state: PyOut) {}
}
/** collections.OrderedDict(entries). */
export class PyOrderedDict {
  constructor(readonly entries: [PyOut, PyOut][]) {}
}
/** A persistent id (torch's storages): the pid tuple, then BINPERSID. */
export class PyPersistent {
  constructor(readonly pid: PyOut) {}
}

export type PyOut =
  | null | boolean | number | string | Uint8Array | PyFloat | PyTuple | PyOut[] | PyDict | PyGlobal | PyCall | PyObjectState | PyOrderedDict | PyPersistent;

const ORDERED_DICT = new PyGlobal("collections", "OrderedDict");
/** pickle writes containers in batches of 1000 items (APPENDS / SETITEMS), as we do. */
const BATCH = 1000;

class Out {
  private parts: Uint8Array[] = [];
  private buf = new Uint8Array(1 << 16);
  private n = 0;
  private enc = new TextEncoder();
  byte(b: number) {
    if (this.n === this.buf.length) this.flush();
    this.buf[this.n++] = b;
  }
  u32(v: number) {
    for (let i = 0; i < 4; i++) this.byte((v >>> (8 * i)) & 0xff);
  }
  raw(b: Uint8Array) {
    if (b.length > 4096) {
      this.flush();
      this.parts.push(b);
    } else for (let i = 0; i < b.length; i++) this.byte(b[i]);
  }
  text(s: string) {
    this.raw(this.enc.encode(s));
  }
  flush() {
    if (this.n) this.parts.push(this.buf.slice(0, this.n));
    this.n = 0;
  }
  bytes(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of this.parts) out.set(p, o), o += p.length;
    return out;
  }
}

function writeInt(o: Out, v: number) {
  if (v >= 0 && v < 256) o.byte(0x4b), o.byte(v); // BININT1
  else if (v >= 0 && v < 65536) o.byte(0x4d), o.byte(v & 0xff), o.byte(v >> 8); // BININT2
  else if (v >= -(2 ** 31) && v < 2 ** 31) o.byte(0x4a), o.u32(v >>> 0); // BININT
  else { // LONG1: little-endian two's complement, as few bytes as hold the sign
    let n = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(n & 0xffn));
      n >>= 8n;
      const signBit = (bytes[bytes.length - 1] & 0x80) !== 0;
      if ((n === 0n && !signBit) || (n === -1n && signBit)) break;
    }
    o.byte(0x8a), o.byte(bytes.length);
    for (const b of bytes) o.byte(b);
  }
}

function writeValue(o: Out, v: PyOut, protocol: number): void {
  if (v === null) return o.byte(0x4e);
  if (v === true) return o.byte(0x88);
  if (v === false) return o.byte(0x89);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new PickleError(`cannot pickle ${v} as an int (wrap floats in PyFloat)`);
    return writeInt(o, v);
  }
  if (v instanceof PyFloat) {
    o.byte(0x47); // BINFLOAT, big-endian
    const d = new DataView(new ArrayBuffer(8));
    d.setFloat64(0, v.value, false);
    return o.raw(new Uint8Array(d.buffer));
  }
  if (typeof v === "string") {
    const b = new TextEncoder().encode(v);
    o.byte(0x58), o.u32(b.length), o.raw(b); // BINUNICODE
    return;
  }
  if (v instanceof Uint8Array) {
    if (protocol < 3) throw new PickleError("bytes need pickle protocol 3 or later");
    if (v.length < 256) o.byte(0x43), o.byte(v.length); // SHORT_BINBYTES
    else o.byte(0x42), o.u32(v.length); // BINBYTES
    return o.raw(v);
  }
  if (v instanceof PyTuple) {
    const n = v.items.length;
    if (n === 0) return o.byte(0x29);
    if (n > 3) o.byte(0x28); // MARK
    for (const x of v.items) writeValue(o, x as PyOut, protocol);
    return o.byte(n === 1 ? 0x85 : n === 2 ? 0x86 : n === 3 ? 0x87 : 0x74);
  }
  if (Array.isArray(v)) {
    o.byte(0x5d); // EMPTY_LIST
    for (let i = 0; i < v.length; i += BATCH) {
      o.byte(0x28);
      for (const x of v.slice(i, i + BATCH)) writeValue(o, x, protocol);
      o.byte(0x65); // APPENDS
    }
    return;
  }
  if (v instanceof PyDict || v instanceof PyOrderedDict) {
    if (v instanceof PyDict) o.byte(0x7d); // EMPTY_DICT
    else writeValue(o, new PyCall(ORDERED_DICT, []), protocol);
    const entries = v.entries as [PyOut, PyOut][];
    for (let i = 0; i < entries.length; i += BATCH) {
      o.byte(0x28);
      for (const [k, x] of entries.slice(i, i + BATCH)) writeValue(o, k, protocol), writeValue(o, x, protocol);
      o.byte(0x75); // SETITEMS
    }
    return;
  }
  if (v instanceof PyGlobal) {
    o.byte(0x63), o.text(`${v.module}\n${v.name}\n`); // GLOBAL
    return;
  }
  if (v instanceof PyCall) {
    writeValue(o, v.fn, protocol);
    writeValue(o, new PyTuple(v.args), protocol);
    return o.byte(0x52); // REDUCE
  }
  if (v instanceof PyObjectState) {
    writeValue(o, v.cls, protocol);
    o.byte(0x29), o.byte(0x81); // EMPTY_TUPLE, NEWOBJ
    writeValue(o, v.state, protocol);
    return o.byte(0x62); // BUILD
  }
  if (v instanceof PyPersistent) {
    writeValue(o, v.pid, protocol);
    return o.byte(0x51); // BINPERSID
  }
  throw new PickleError(`cannot pickle ${Object.prototype.toString.call(v)}`);
}

/** The pickle bytes of `value`. Protocol 2 is torch.save's; tokenizer.pkl needs 3+ (bytes). */
export function writePickle(value: PyOut, protocol = 2): Uint8Array {
  const o = new Out();
  o.byte(0x80), o.byte(protocol);
  writeValue(o, value, protocol);
  o.byte(0x2e);
  return o.bytes();
}
