// safetensors read/write (the format nanochat's tooling and Hugging Face load):
//   u64 little-endian header length · JSON header · raw little-endian tensor bytes.
// The header maps names to {dtype, shape, data_offsets: [begin, end)} relative to the
// data section, plus optional "__metadata__" (string → string). Runtime-agnostic.
import { UserError } from "../util/errors.ts";
import { fromBFloat16 } from "./bf16.ts";
import { fromFloat16 } from "./f16.ts";

export type SafeDType = "F32" | "BF16" | "F16" | "I32" | "U32" | "I64" | "U8";

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /** F32 data as Float32Array; integer dtypes as their typed array; BF16/F16 raw as Uint16Array. */
  data: Float32Array | Int32Array | Uint32Array | Uint16Array | BigInt64Array | Uint8Array;
}

export class SafetensorsError extends UserError {
  override name = "SafetensorsError";
}

const BYTES: Record<SafeDType, number> = { F32: 4, BF16: 2, F16: 2, I32: 4, U32: 4, I64: 8, U8: 1 };

function dtypeOf(data: SafeTensor["data"], declared?: SafeDType): SafeDType {
  if (declared) return declared;
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Uint32Array) return "U32";
  if (data instanceof BigInt64Array) return "I64";
  if (data instanceof Uint8Array) return "U8";
  throw new SafetensorsError("a Uint16Array tensor needs an explicit dtype (BF16 or F16)");
}

export function encodeSafetensors(tensors: Map<string, SafeTensor | Float32Array>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const st: SafeTensor = t instanceof Float32Array ? { dtype: "F32", shape: [t.length], data: t } : t;
    const dtype = dtypeOf(st.data, st.dtype);
    const n = st.shape.reduce((a, b) => a * b, 1);
    if (n !== st.data.length) throw new SafetensorsError(`tensor ${name}: shape [${st.shape}] holds ${n} values, data has ${st.data.length}`);
    const bytes = new Uint8Array(st.data.buffer, st.data.byteOffset, st.data.byteLength);
    header[name] = { dtype, shape: st.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((json.length + 8) % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Parses a safetensors file; `source` names the file in errors. Data is copied out. */
export function decodeSafetensors(bytes: Uint8Array, source = "safetensors"): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new SafetensorsError(`${source}: ${why}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for a safetensors header (truncated?)`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.length - 8) fail(`header claims ${headerLen} bytes but the file has ${bytes.length - 8} after the length (truncated?)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!e || !e.dtype || !(e.dtype in BYTES)) fail(`tensor ${name}: unsupported dtype ${e?.dtype}`);
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) fail(`tensor ${name}: missing shape or data_offsets`);
    const [begin, end] = e.data_offsets!;
    const dtype = e.dtype as SafeDType;
    const n = e.shape!.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && end <= dataLen)) fail(`tensor ${name}: data [${begin}, ${end}) lies outside the ${dataLen} data bytes (truncated?)`);
    if (end - begin !== n * BYTES[dtype]) fail(`tensor ${name}: ${end - begin} bytes do not hold shape [${e.shape}] of ${dtype}`);
    const raw = bytes.slice(dataStart + begin, dataStart + end); // copy: aligned and detached from the file buffer
    const data = dtype === "F32" ? new Float32Array(raw.buffer)
      : dtype === "I32" ? new Int32Array(raw.buffer)
      : dtype === "U32" ? new Uint32Array(raw.buffer)
      : dtype === "I64" ? new BigInt64Array(raw.buffer)
      : dtype === "U8" ? raw
      : new Uint16Array(raw.buffer);
    tensors.set(name, { dtype, shape: e.shape!, data });
  }
  return { tensors, metadata };
}

/** float32 values of a tensor (BF16 and F16 widened), for loading weights. */
export function toFloat32(t: SafeTensor, name = "tensor"): Float32Array {
  if (t.dtype === "F32") return t.data as Float32Array;
  if (t.dtype === "BF16") return fromBFloat16(t.data as Uint16Array);
  if (t.dtype === "F16") return fromFloat16(t.data as Uint16Array);
  throw new SafetensorsError(`${name} has dtype ${t.dtype}, expected a float tensor`);
}
