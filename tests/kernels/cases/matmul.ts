// Matmul cases: every variant the model uses (A·B, A·Bᵀ, Aᵀ·B, batched, accumulate),
// on degenerate, odd and model-like shapes. Bound: 1e-5 relative (float32 with fma;
// the observed error is ~1e-7·sqrt(K)).
import type { Gpu } from "../../../src/gpu/device.ts";
import { runOps } from "../../../src/gpu/kernel.ts";
import { fillTensorBits, NAN_BITS, readF32, uploadTensor } from "../../../src/gpu/tensor.ts";
import { matmulOp, type MatmulOptions } from "../../../src/nn/matmul.ts";
import { freshRng, type KernelCase, matmulRef, randomF32, relErr } from "../harness.ts";

const BOUND = 1e-5;

async function runMatmul(gpu: Gpu, M: number, N: number, K: number, o: MatmulOptions = {}) {
  const rng = freshRng();
  const batch = o.batch ?? 1;
  const a = randomF32(rng, batch * M * K);
  const b = randomF32(rng, batch * K * N);
  const c0 = randomF32(rng, batch * M * N);
  const ta = uploadTensor(gpu, a, [batch * M * K], "A");
  const tb = uploadTensor(gpu, b, [batch * K * N], "B");
  const tc = uploadTensor(gpu, c0, [batch * M * N], "C");
  if (!o.accumulate) fillTensorBits(tc, NAN_BITS);
  const op = await matmulOp(gpu, { a: ta, b: tb, c: tc }, { M, N, K }, o);
  await runOps(gpu, [op]);
  const out = await readF32(tc);
  const ref = matmulRef(a, b, M, N, K, { ...o, c0: o.accumulate ? c0 : undefined });
  for (const t of [ta, tb, tc]) t.destroy();
  return { relErr: relErr(out, ref), bound: BOUND };
}

function mm(name: string, M: number, N: number, K: number, o: MatmulOptions = {}): KernelCase {
  return { name: `matmul ${name} ${M}×${N}×${K}`, run: (gpu) => runMatmul(gpu, M, N, K, o) };
}

export const matmulCases: KernelCase[] = [
  mm("A·B", 1, 1, 1),
  mm("A·B", 17, 33, 65),
  mm("A·B", 64, 64, 64),
  mm("A·Bᵀ", 17, 33, 65, { transB: true }),
  mm("Aᵀ·B", 17, 33, 65, { transA: true }),
  mm("Aᵀ·Bᵀ", 31, 7, 19, { transA: true, transB: true }),
  mm("A·B+C", 17, 33, 65, { accumulate: true }),
  mm("Aᵀ·B+C alpha=0.5", 33, 17, 9, { transA: true, accumulate: true, alpha: 0.5 }),
  mm("batched(3) A·Bᵀ", 13, 21, 8, { batch: 3, transB: true }),
  mm("model-like x·Wᵀ", 256, 128, 512, { transB: true }),
  mm("model-like dX=dY·W", 256, 512, 128),
  mm("model-like dW=dYᵀ·X", 128, 512, 256, { transA: true, accumulate: true }),
  // Past one 64×64 tile in every direction, with a partial last tile and K not a multiple of BK.
  mm("tile edges A·B", 129, 65, 17),
  mm("tile edges Aᵀ·Bᵀ+C", 70, 130, 33, { transA: true, transB: true, accumulate: true }),
  mm("tile edges batched(2) A·Bᵀ", 65, 72, 40, { batch: 2, transB: true }),
  mm("small tiles (WG 4×4, BK 8)", 37, 29, 41, { tile: { WG_X: 4, WG_Y: 4, BK: 8 } }),
  mm("wide tiles (WG 16×8, BK 32)", 150, 141, 77, { tile: { WG_X: 16, WG_Y: 8, BK: 32 } }),
  mm("naive baseline", 17, 33, 65, { naive: true, transB: true }),
  mm("naive baseline batched(2) Aᵀ·B+C", 9, 14, 11, { naive: true, batch: 2, transA: true, accumulate: true }),
  // The skinny kernel (picked for M ≤ 8: decode steps), and forced on for other shapes.
  mm("skinny x·Wᵀ (decode, batch 1)", 1, 300, 128, { transB: true }),
  mm("skinny x·Wᵀ (decode, batch 8)", 8, 97, 200, { transB: true }),
  mm("skinny A·B+C alpha=2", 5, 33, 65, { accumulate: true, alpha: 2 }),
  mm("skinny Aᵀ·Bᵀ", 3, 7, 19, { transA: true, transB: true }),
  mm("skinny forced, M over 8 rows", 19, 21, 70, { skinny: true, transB: true }),
  mm("skinny batched(3)", 2, 21, 8, { batch: 3 }),
];
