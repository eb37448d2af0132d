// A restricted reader of Python pickle streams (protocols 2–5), for the two things the
// lab reads from nanochat: torch.save'd state dicts (tensors, dicts of numbers) and a
// pickled tiktoken Encoding (tokenizer.pkl).
//
// Python's unpickler is a small virtual machine whose REDUCE / NEWOBJ / BUILD opcodes call
// any importable function — a `.pt` or `.pkl` from the internet can run `os.system`. This
// reader executes nothing: it builds plain values (None, bool, int, float, str, bytes,
// tuple, list, dict), and the only globals it accepts are the ones the caller's rules
// name, each mapped to a JavaScript handler that builds a plain value. Any other global,
// and any opcode outside the whitelist below, stops the read with an error naming it.
//
// Runtime-agnostic.
import { UserError } from "../util/errors.ts";

export class PickleError extends UserError {
  override name = "PickleError";
}

/** A Python tuple (kept apart from lists: torch shapes and persistent ids are tuples). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A dict (or OrderedDict), in insertion order. */
export class PyDict {
  readonly entries: [PyValue, PyValue][] = [];
  private index = new Map<string, number>();
  set(k: PyValue, v: PyValue): void {
    const h = hashKey(k);
    const at = h === null ? undefined : this.index.get(h);
    if (at !== undefined) this.entries[at][1] = v;
    else {
      if (h !== null) this.index.set(h, this.entries.length);
      this.entries.push([k, v]);
    }
  }
  get(k: string): PyValue | undefined {
    const at = this.index.get(hashKey(k)!);
    return at === undefined ? undefined : this.entries[at][1];
  }
}

/** A reference to a whitelisted global (e.g. torch.FloatStorage passed as a value). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

// deno-lint-ignore no-explicit-any
export type PyValue = null | boolean | number | string | Uint8Array | PyTuple | PyValue[] | PyDict | PyGlobal | { readonly [k: string]: any };

function hashKey(k: PyValue): string | null {
  if (typeof k === "string") return "s" + k;
  if (typeof k === "number") return "n" + k;
  if (typeof k === "boolean") return "n" + Number(k); // Python: True == 1
  if (k === null) return "N";
  if (k instanceof Uint8Array) {
    let s = "b";
    for (let i = 0; i < k.length; i++) s += String.fromCharCode(k[i]);
    return s;
  }
  return null;
}

/** What one allowed global may do. Handlers build values; none of them runs Python code. */
export interface GlobalRule {
  /** `f(*args)` (REDUCE). */
  reduce?(args: PyValue[]): PyValue;
  /** `cls.__new__(cls, *args)` (NEWOBJ). */
  newobj?(args: PyValue[]): PyValue;
  /** `obj.__setstate__(state)` (BUILD) on an object this global made; returns the final object. */
  build?(obj: PyValue, state: PyValue): PyValue;
}

export interface PickleRules {
  /** "module.name" → what it may do. A global with no entry is refused. */
  globals: Record<string, GlobalRule>;
  /** BINPERSID: torch's storages. Absent: persistent ids are refused. */
  persistentLoad?(pid: PyValue): PyValue;
}

/** Names of the opcodes the reader refuses, for the message (Lib/pickletools.py names). */
const REFUSED: Record<number, string> = {
  0x49: "INT", 0x4c: "LONG", 0x53: "STRING", 0x56: "UNICODE", 0x46: "FLOAT", 0x50: "PERSID", 0x69: "INST", 0x6f: "OBJ",
  0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x92: "NEWOBJ_EX", 0x8b: "LONG4", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
  0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
  0x64: "DICT", 0x6c: "LIST", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x67: "GET", 0x70: "PUT",
};

/**
 * Reads one pickled object. `source` names the file in errors. Allowed objects come only
 * from `rules`; everything else is refused with the global's or opcode's name.
 */
export function readPickle(bytes: Uint8Array, rules: PickleRules, source = "pickle"): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new PickleError(`${source}: ${why}`);
  };
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`the pickle ends in the middle of an opcode at byte ${pos} (truncated?)`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), pos += 2, view.getUint16(pos - 2, true));
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const n = view.getBigUint64(pos, true);
    pos += 8;
    if (n > BigInt(bytes.length)) fail(`a length of ${n} bytes at byte ${pos - 8} is longer than the file`);
    return Number(n);
  };
  const take = (n: number) => (need(n), pos += n, bytes.subarray(pos - n, pos));
  const utf8 = new TextDecoder();
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("a GLOBAL name is not terminated (truncated?)");
    const s = utf8.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };

  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const madeBy = new WeakMap<object, string>(); // object → the global that made it (for BUILD)
  const pop = (): PyValue => (stack.length > (marks.at(-1) ?? 0) ? stack.pop()! : fail(`malformed pickle: stack underflow at byte ${pos}`));
  const top = (): PyValue => (stack.length ? stack[stack.length - 1] : fail(`malformed pickle: empty stack at byte ${pos}`));
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail(`malformed pickle: no MARK before byte ${pos}`);
    return stack.splice(m!);
  };
  const ruleOf = (g: PyValue, what: string): [string, GlobalRule] => {
    if (!(g instanceof PyGlobal)) return fail(`malformed pickle: ${what} on something that is not a class or function (byte ${pos})`);
    return [g.qualname, rules.globals[g.qualname]];
  };
  const made = (v: PyValue, by: string) => {
    if (typeof v === "object" && v !== null) madeBy.set(v, by);
    return v;
  };
  const toArgs = (v: PyValue, op: string) => (v instanceof PyTuple ? v.items : fail(`malformed pickle: ${op} arguments are not a tuple (byte ${pos})`));
  const setItems = (target: PyValue, kv: PyValue[]) => {
    if (!(target instanceof PyDict)) fail(`malformed pickle: SETITEMS on something that is not a dict (byte ${pos})`);
    if (kv.length % 2) fail(`malformed pickle: SETITEMS with an odd number of items (byte ${pos})`);
    for (let i = 0; i < kv.length; i += 2) (target as PyDict).set(kv[i], kv[i + 1]);
  };
  const int = (n: number) => stack.push(n);

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const p = u8();
        if (p < 2 || p > 5) fail(`pickle protocol ${p} is not read (only 2 to 5, what torch.save and pickle.dump write)`);
        break;
      }
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail(`malformed pickle: ${stack.length} values left at STOP`);
        return stack[0];
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x74: stack.push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x61: { const v = pop(); const l = top(); Array.isArray(l) ? l.push(v) : fail(`malformed pickle: APPEND to a non-list (byte ${at})`); break; }
      case 0x65: { const items = popMark(); const l = top(); Array.isArray(l) ? l.push(...items) : fail(`malformed pickle: APPENDS to a non-list (byte ${at})`); break; }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x4a: int(u32() | 0); break; // BININT (signed)
      case 0x4b: int(u8()); break; // BININT1
      case 0x4d: int(u16()); break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement
        const b = take(u8());
        let n = 0n;
        for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) n -= 1n << BigInt(8 * b.length);
        if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)) fail(`integer ${n} at byte ${at} is too large`);
        int(Number(n));
        break;
      }
      case 0x47: need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x58: stack.push(utf8.decode(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8.decode(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8.decode(take(u64()))); break; // BINUNICODE8
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`malformed pickle: memo ${i} read before it was written (byte ${at})`);
        stack.push(memo.get(i)!);
        break;
      }
      case 0x63: case 0x93: { // GLOBAL, STACK_GLOBAL
        let module: PyValue, name: PyValue;
        if (op === 0x63) module = line(), name = line();
        else name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail(`malformed pickle: STACK_GLOBAL names are not strings (byte ${at})`);
        const q = `${module}.${name}`;
        if (!(q in rules.globals)) {
          fail(`refusing the global ${q} (byte ${at}): a state dict or tokenizer never needs it, and this reader executes nothing; the file may be malicious or not what it claims to be`);
        }
        stack.push(new PyGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = toArgs(pop(), "REDUCE");
        const [q, r] = ruleOf(pop(), "REDUCE");
        if (!r?.reduce) fail(`refusing to call ${q} (REDUCE at byte ${at}): it is allowed only as a value`);
        stack.push(made(r!.reduce!(args), q));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = toArgs(pop(), "NEWOBJ");
        const [q, r] = ruleOf(pop(), "NEWOBJ");
        if (!r?.newobj) fail(`refusing to construct ${q} (NEWOBJ at byte ${at})`);
        stack.push(made(r!.newobj!(args), q));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = pop();
        const q = typeof obj === "object" && obj !== null ? madeBy.get(obj) : undefined;
        const r = q ? rules.globals[q] : undefined;
        if (!r?.build) fail(`refusing BUILD (setting the state of ${q ?? "a plain value"}) at byte ${at}`);
        stack.push(made(r!.build!(obj, state), q!));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!rules.persistentLoad) fail(`refusing a persistent id (BINPERSID at byte ${at}): this file kind has none`);
        stack.push(rules.persistentLoad!(pid));
        break;
      }
      default:
        fail(`refusing opcode ${REFUSED[op] ?? `0x${op.toString(16).padStart(2, "0")}`} at byte ${at}: not part of what a state dict or tokenizer pickle uses`);
    }
  }
}
