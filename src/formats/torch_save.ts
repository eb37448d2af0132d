// torch.save / torch.load of tensors, in PyTorch's zip checkpoint format:
//
//   <archive>/data.pkl      pickle (protocol 2) of the object; each tensor is
//                           torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
//                           requires_grad, backward_hooks), the storage a persistent id
//                           ('storage', torch.<Dtype>Storage, key, location, numel)
//   <archive>/data/<key>    each storage's raw little-endian bytes
//   <archive>/version       "3\n";  <archive>/byteorder  "little" (torch ≥ 2.1)
//
// <archive> is whatever the writer chose (torch uses the file's name without ".pt"); the
// reader takes the directory holding data.pkl. Reading goes through the restricted
// unpickler (pickle.ts) with exactly the globals such files use, and checks every
// tensor against its storage (dtype, length, shape/stride/offset) before copying it out.
//
// Runtime-agnostic.
import { UserError } from "../util/errors.ts";
import { type PickleRules, PyDict, PyGlobal, PyTuple, type PyValue, readPickle } from "./pickle.ts";
import { PyCall, PyOrderedDict, type PyOut, PyPersistent, writePickle } from "./pickle_write.ts";
import { type ByteSource, readZipDirectory, readZipEntry, type ZipEntry, zipChunks } from "./zip.ts";

export class TorchFileError extends UserError {
  override name = "TorchFileError";
}

export type TorchDType = "F32" | "BF16" | "F16" | "I32" | "I64";

/** torch.<X>Storage class name ↔ dtype, with the element size. */
const STORAGES: Record<string, { dtype: TorchDType; bytes: number }> = {
  FloatStorage: { dtype: "F32", bytes: 4 },
  BFloat16Storage: { dtype: "BF16", bytes: 2 },
  HalfStorage: { dtype: "F16", bytes: 2 },
  IntStorage: { dtype: "I32", bytes: 4 },
  LongStorage: { dtype: "I64", bytes: 8 },
};
const STORAGE_OF: Record<TorchDType, string> = { F32: "FloatStorage", BF16: "BFloat16Storage", F16: "HalfStorage", I32: "IntStorage", I64: "LongStorage" };

/** A tensor as found in data.pkl: where its elements live, not yet read. */
export class TensorRef {
  constructor(
    readonly storage: { key: string; dtype: TorchDType; numel: number },
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A tensor read out: contiguous (row-major) data of its dtype (BF16/F16 as raw Uint16Array). */
export interface TorchTensor {
  dtype: TorchDType;
  shape: number[];
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array;
}

const ints = (v: PyValue, what: string): number[] => {
  if (!(v instanceof PyTuple) || !v.items.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0)) {
    throw new TorchFileError(`${what} is not a tuple of non-negative integers`);
  }
  return v.items as number[];
};

/** The globals and persistent ids a torch.save'd state dict (or optimizer state) uses. */
function torchRules(file: string): PickleRules {
  const globals: PickleRules["globals"] = {
    "collections.OrderedDict": {
      reduce: (args) => {
        if (args.length) throw new TorchFileError(`${file}: OrderedDict called with arguments`);
        return new PyDict();
      },
      // state_dict()'s _metadata attribute (module versions): not needed, dropped.
      build: (obj, state) => {
        if (!(state instanceof PyDict)) throw new TorchFileError(`${file}: an OrderedDict's state is not a dict`);
        return obj;
      },
    },
    "torch._utils._rebuild_tensor_v2": {
      reduce: (args) => {
        const [storage, offset, size, stride, , hooks] = args;
        if (args.length < 6 || args.length > 7 || !(storage instanceof StorageRef) || typeof offset !== "number") {
          throw new TorchFileError(`${file}: _rebuild_tensor_v2 called with unexpected arguments`);
        }
        if (!(hooks instanceof PyDict) || hooks.entries.length) throw new TorchFileError(`${file}: a tensor with backward hooks is refused (hooks would run code)`);
        return new TensorRef(storage.info, offset, ints(size, `${file}: a tensor's size`), ints(stride, `${file}: a tensor's stride`));
      },
    },
  };
  for (const cls of Object.keys(STORAGES)) globals[`torch.${cls}`] = {}; // values only, never called
  return {
    globals,
    persistentLoad: (pid) => {
      const t = pid instanceof PyTuple ? pid.items : [];
      const [tag, cls, key, location, numel] = t;
      if (t.length !== 5 || tag !== "storage" || !(cls instanceof PyGlobal) || typeof key !== "string" || typeof location !== "string" || typeof numel !== "number") {
        throw new TorchFileError(`${file}: a persistent id is not torch's ('storage', class, key, location, numel)`);
      }
      const s = STORAGES[cls.name];
      if (cls.module !== "torch" || !s) throw new TorchFileError(`${file}: storage class ${cls.qualname} is not read (float32, bfloat16, float16, int32, int64 only)`);
      if (!/^[0-9A-Za-z_]+$/.test(key)) throw new TorchFileError(`${file}: storage key ${JSON.stringify(key)} is not a plain name`);
      return new StorageRef({ key, dtype: s.dtype, numel });
    },
  };
}

class StorageRef {
  constructor(readonly info: { key: string; dtype: TorchDType; numel: number }) {}
}

/** An opened torch zip checkpoint: the unpickled object (tensors as TensorRef) and its storages. */
export interface TorchArchive {
  file: string;
  object: PyValue;
  /** Reads a tensor's elements into a contiguous array, checking it against its storage. */
  tensor(ref: TensorRef, name: string): Promise<TorchTensor>;
}

export async function openTorchArchive(src: ByteSource, file: string): Promise<TorchArchive> {
  const entries = await readZipDirectory(src, file);
  const pkls = entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkls.length !== 1) throw new TorchFileError(`${file}: expected one <archive>/data.pkl entry, found ${pkls.length}: not a PyTorch zip checkpoint (torch ≥ 1.6)`);
  const prefix = pkls[0].name.slice(0, -"data.pkl".length);
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));
  const object = readPickle(await readZipEntry(src, pkls[0], file), torchRules(file), `${file}: ${pkls[0].name}`);
  const cache = new Map<string, Uint8Array>();
  const storageBytes = async (key: string, what: string) => {
    if (!cache.has(key)) {
      const e = byName.get(`${prefix}data/${key}`);
      if (!e) throw new TorchFileError(`${file}: ${what}: its storage ${prefix}data/${key} is missing from the archive`);
      cache.set(key, await readZipEntry(src, e, file));
    }
    return cache.get(key)!;
  };
  return {
    file,
    object,
    tensor: async (ref, name) => {
      const what = `tensor ${name}`;
      const { dtype, numel, key } = ref.storage;
      const size = STORAGES[STORAGE_OF[dtype]].bytes;
      if (ref.shape.length !== ref.stride.length) throw new TorchFileError(`${file}: ${what} has ${ref.shape.length} sizes but ${ref.stride.length} strides`);
      const count = ref.shape.reduce((a, b) => a * b, 1);
      // Last element's index: it must lie inside the storage the pickle declares...
      const last = ref.offset + ref.shape.reduce((s, d, i) => s + (d - 1) * ref.stride[i], 0);
      if (count > 0 && last >= numel) {
        throw new TorchFileError(`${file}: ${what} of shape [${ref.shape}] (stride [${ref.stride}], offset ${ref.offset}) needs ${last + 1} elements, its storage declares ${numel}`);
      }
      // ...and the storage's bytes must be as long as declared.
      const raw = await storageBytes(key, what);
      if (raw.length !== numel * size) {
        throw new TorchFileError(`${file}: ${what}: storage data/${key} has ${raw.length} bytes, but ${numel} ${dtype} elements need ${numel * size} (truncated or corrupt)`);
      }
      const aligned = raw.slice().buffer; // a copy: aligned for typed arrays, and independent of the file
      const all = dtype === "F32" ? new Float32Array(aligned) : dtype === "I32" ? new Int32Array(aligned) : dtype === "I64" ? new BigInt64Array(aligned) : new Uint16Array(aligned);
      const contiguous = ref.shape.every((_, i) => ref.shape[i] === 1 || ref.stride[i] === ref.shape.slice(i + 1).reduce((a, b) => a * b, 1));
      if (contiguous) return { dtype, shape: ref.shape, data: all.slice(ref.offset, ref.offset + count) as TorchTensor["data"] };
      // A strided view (e.g. a transpose saved as is): gather row-major.
      const out = new (all.constructor as { new (n: number): TorchTensor["data"] })(count);
      const idx = new Array(ref.shape.length).fill(0);
      for (let i = 0; i < count; i++) {
        let src = ref.offset;
        for (let d = 0; d < idx.length; d++) src += idx[d] * ref.stride[d];
        (out as unknown as number[])[i] = (all as unknown as number[])[src];
        for (let d = idx.length - 1; d >= 0 && ++idx[d] === ref.shape[d]; d--) idx[d] = 0;
      }
      return { dtype, shape: ref.shape, data: out };
    },
  };
}

/** A torch.save'd dict of name → tensor (a state dict), every tensor read and checked. */
export async function readTorchStateDict(src: ByteSource, file: string): Promise<Map<string, TorchTensor>> {
  const ar = await openTorchArchive(src, file);
  if (!(ar.object instanceof PyDict)) throw new TorchFileError(`${file}: holds something other than a state dict (a dict of tensors)`);
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of ar.object.entries) {
    if (typeof k !== "string") throw new TorchFileError(`${file}: a state dict key is not a string`);
    if (!(v instanceof TensorRef)) throw new TorchFileError(`${file}: entry ${k} is not a tensor`);
    out.set(k, await ar.tensor(v, k));
  }
  return out;
}

/** One torch.save'd tensor (e.g. token_bytes.pt). */
export async function readTorchTensor(src: ByteSource, file: string): Promise<TorchTensor> {
  const ar = await openTorchArchive(src, file);
  if (!(ar.object instanceof TensorRef)) throw new TorchFileError(`${file}: does not hold a single tensor`);
  return ar.tensor(ar.object, "(the saved tensor)");
}

// ---------------------------------------------------------------- writing

/** Builds the pickle nodes of tensors, collecting their storages (one per tensor). */
export class TorchWriter {
  readonly storages: { key: string; data: Uint8Array }[] = [];
  /** The node torch.save writes for a contiguous tensor. */
  tensor(t: TorchTensor): PyOut {
    const key = String(this.storages.length);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new TorchFileError(`tensor of shape [${t.shape}] given ${t.data.length} values`);
    this.storages.push({ key, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const pid = new PyTuple(["storage", new PyGlobal("torch", STORAGE_OF[t.dtype]), key, "cpu", numel]);
    return new PyCall(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), [
      new PyPersistent(pid), 0, new PyTuple(t.shape), new PyTuple(stride), false, new PyOrderedDict([]),
    ]);
  }
  /** The zip entries of torch.save(object) (chunks to write in order; tensor data not copied). */
  archive(object: PyOut, archiveName: string): Uint8Array[] {
    return zipChunks([
      { name: `${archiveName}/data.pkl`, data: writePickle(object, 2) },
      { name: `${archiveName}/byteorder`, data: new TextEncoder().encode("little") },
      ...this.storages.map((s) => ({ name: `${archiveName}/data/${s.key}`, data: s.data })),
      { name: `${archiveName}/version`, data: new TextEncoder().encode("3\n") },
    ]);
  }
}

/** torch.save(OrderedDict(tensors)) as file chunks. */
export function torchStateDictChunks(tensors: Iterable<[string, TorchTensor]>, archiveName: string): Uint8Array[] {
  const w = new TorchWriter();
  const entries: [PyOut, PyOut][] = [];
  for (const [name, t] of tensors) entries.push([name, w.tensor(t)]);
  return w.archive(new PyOrderedDict(entries), archiveName);
}
