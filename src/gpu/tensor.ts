// A tensor is a GPUBuffer plus the shape and element type the kernels expect.
// Upload, readback and a scratch pool live here; kernels never see raw ArrayBuffers.
import type { Gpu } from "./device.ts";

export type DType = "f32" | "i32" | "u32" | "f16";
export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, i32: 4, u32: 4, f16: 2 };

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join("×")}]`;
}

/** WebGPU buffer sizes must be multiples of 4 bytes and non-zero. */
function paddedBytes(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/** Bytes of the buffer createTensor makes for this shape and type. */
export function tensorBytes(shape: readonly number[], dtype: DType): number {
  return paddedBytes(numel(shape) * BYTES_PER_ELEMENT[dtype]);
}

export class Tensor {
  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {}

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  get label(): string {
    return this.buffer.label;
  }

  toString(): string {
    return `${this.label || "tensor"}${shapeString(this.shape)}:${this.dtype}`;
  }

  destroy(): void {
    if (this.owned) {
      this.owned = false;
      liveBytes.set(this.gpu.device, (liveBytes.get(this.gpu.device) ?? 0) - this.buffer.size);
    }
    this.buffer.destroy();
  }

  /** Set by createTensor: this tensor's buffer counts towards liveTensorBytes until destroyed. */
  owned = false;
}

const liveBytes = new WeakMap<GPUDevice, number>();

/** Bytes of tensor buffers made by createTensor on this device and not yet destroyed. */
export function liveTensorBytes(gpu: Gpu): number {
  return liveBytes.get(gpu.device) ?? 0;
}

/**
 * The first numel(shape) elements of `t` under another shape, sharing its buffer (e.g. the
 * first rows of a batched KV cache). Destroy the owner, never the view.
 */
export function prefixView(t: Tensor, shape: readonly number[]): Tensor {
  if (numel(shape) > t.size) throw new RangeError(`view ${shapeString(shape)} of ${t} is larger than the tensor`);
  return new Tensor(t.gpu, t.buffer, [...shape], t.dtype);
}

export function createTensor(gpu: Gpu, shape: readonly number[], dtype: DType = "f32", label = ""): Tensor {
  const bytes = numel(shape) * BYTES_PER_ELEMENT[dtype];
  const max = gpu.limits.maxStorageBufferBindingSize;
  if (bytes > max) {
    throw new RangeError(
      `tensor ${label}${shapeString(shape)} needs ${bytes} bytes, over this adapter's maxStorageBufferBindingSize (${max})`,
    );
  }
  const buffer = gpu.device.createBuffer({ label, size: paddedBytes(bytes), usage: STORAGE_USAGE });
  const t = new Tensor(gpu, buffer, [...shape], dtype);
  t.owned = true;
  liveBytes.set(gpu.device, (liveBytes.get(gpu.device) ?? 0) + buffer.size);
  return t;
}

function dtypeOf(data: HostArray): DType {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Int32Array) return "i32";
  if (data instanceof Uint32Array) return "u32";
  return "f16";
}

export function uploadTensor(gpu: Gpu, data: HostArray, shape: readonly number[] = [data.length], label = ""): Tensor {
  if (numel(shape) !== data.length) {
    throw new RangeError(`upload ${label}: shape ${shapeString(shape)} holds ${numel(shape)} elements, data has ${data.length}`);
  }
  const t = createTensor(gpu, shape, dtypeOf(data), label);
  writeTensor(t, data);
  return t;
}

export function writeTensor(t: Tensor, data: HostArray, elementOffset = 0): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const start = elementOffset * BYTES_PER_ELEMENT[t.dtype];
  if (start + bytes.byteLength > t.buffer.size) {
    throw new RangeError(`write into ${t}: ${data.length} elements at offset ${elementOffset} do not fit`);
  }
  // writeBuffer needs a 4-byte multiple; pad the odd f16 tail.
  if (bytes.byteLength % 4 !== 0) {
    const padded = new Uint8Array(paddedBytes(bytes.byteLength));
    padded.set(bytes);
    t.gpu.device.queue.writeBuffer(t.buffer, start, padded);
  } else {
    t.gpu.device.queue.writeBuffer(t.buffer, start, bytes);
  }
}

/** Fills the whole buffer with a bit pattern (tests use NaN to poison outputs). */
export function fillTensorBits(t: Tensor, bits: number): void {
  const words = new Uint32Array(t.buffer.size / 4).fill(bits >>> 0);
  t.gpu.device.queue.writeBuffer(t.buffer, 0, words);
}

export const NAN_BITS = 0x7fc00000;

/** Copies a tensor (or a range of raw buffer bytes) back to the host. */
export async function readBuffer(gpu: Gpu, buffer: GPUBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
  const size = paddedBytes(byteLength);
  const staging = gpu.device.createBuffer({ label: `readback:${buffer.label}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = gpu.device.createCommandEncoder({ label: `readback:${buffer.label}` });
  encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, Math.min(size, buffer.size - byteOffset));
  gpu.device.queue.submit([encoder.finish()]);
  try {
    await staging.mapAsync(GPUMapMode.READ);
  } catch (err) {
    staging.destroy();
    throw new Error(`readback of ${buffer.label || "buffer"} failed${gpu.lost ? `: ${gpu.lost}` : ""}: ${(err as Error).message}`);
  }
  const copy = staging.getMappedRange().slice(0, byteLength);
  staging.unmap();
  staging.destroy();
  return copy;
}

export async function readTensor(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array | Uint16Array> {
  const bytes = await readBuffer(t.gpu, t.buffer, 0, t.byteLength);
  switch (t.dtype) {
    case "f32":
      return new Float32Array(bytes);
    case "i32":
      return new Int32Array(bytes);
    case "u32":
      return new Uint32Array(bytes);
    case "f16":
      return new Uint16Array(bytes);
  }
}

export async function readF32(t: Tensor): Promise<Float32Array> {
  if (t.dtype !== "f32") throw new TypeError(`readF32 on ${t}`);
  return (await readTensor(t)) as Float32Array;
}

/**
 * Scratch buffers for intermediate results, bucketed by power-of-two size so that
 * a training step's temporaries are reused across steps instead of reallocated.
 */
export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = 0;
  peakBytes = 0;

  constructor(private gpu: Gpu) {}

  private bucket(bytes: number): number {
    return 2 ** Math.ceil(Math.log2(Math.max(256, bytes)));
  }

  acquire(shape: readonly number[], dtype: DType = "f32", label = "scratch"): Tensor {
    const size = this.bucket(numel(shape) * BYTES_PER_ELEMENT[dtype]);
    const buffer = this.free.get(size)?.pop() ??
      this.gpu.device.createBuffer({ label, size, usage: STORAGE_USAGE });
    this.live += size;
    this.peakBytes = Math.max(this.peakBytes, this.live);
    return new Tensor(this.gpu, buffer, [...shape], dtype);
  }

  release(t: Tensor): void {
    const size = t.buffer.size;
    this.live -= size;
    const list = this.free.get(size) ?? [];
    list.push(t.buffer);
    this.free.set(size, list);
  }

  destroy(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}
