// Every buffer one forward+backward of the GPT touches, allocated once per (config, B, T)
// and reused every step (so bind groups are made once). Per-layer buffers hold what the
// backward needs; gradient scratch is shared by all layers.
import type { Gpu } from "../gpu/device.ts";
import { createTensor, type Tensor, tensorBytes } from "../gpu/tensor.ts";
import type { GPTConfig } from "./config.ts";

export interface LayerActivations {
  xn1: Tensor; rstd1: Tensor;          // rmsnorm before attention
  q: Tensor; k: Tensor; v: Tensor;     // q, k after rotary + QK-norm
  qRot: Tensor; kRot: Tensor;          // q, k after rotary, before QK-norm
  rstdQ: Tensor; rstdK: Tensor;
  y: Tensor; lse: Tensor;              // attention output (B,T,H,hd) and its log-sum-exp (B,H,T)
  xMid: Tensor;                        // residual after attention
  xn2: Tensor; rstd2: Tensor;          // rmsnorm before the MLP
  hPre: Tensor; hAct: Tensor;          // c_fc output, relu² output
  xOut: Tensor;                        // residual after the MLP
}

export interface GradScratch {
  dRes: Tensor;      // gradient of the residual stream (N×C)
  dXn: Tensor;       // gradient of a norm output (N×C)
  dY: Tensor;        // gradient of the attention output (N×C)
  dH: Tensor;        // gradient of relu² output (N×4C)
  dHPre: Tensor;     // gradient of c_fc output (N×4C)
  dQ: Tensor; dK: Tensor; dV: Tensor;       // attention input gradients
  dQRot: Tensor; dKRot: Tensor;             // gradients before QK-norm / rotary
  delta: Tensor;     // attention backward's rowsum(dO·O), (B,H,T)
}

export interface Activations {
  idx: Tensor; targets: Tensor;        // N u32 ids, N i32 targets
  lossWeights: Tensor;                 // N f32: each target's weight in the loss (1; RL: its advantage)
  emb: Tensor; rstd0: Tensor; x0: Tensor;
  layers: LayerActivations[];
  xf: Tensor; rstdF: Tensor;           // final norm
  proj: Tensor;                        // scratch for c_proj outputs before the residual add
  losses: Tensor; loss: Tensor;
  grads: GradScratch | null;
  destroy(): void;
}

/** How the activation builder makes one buffer: a GPU tensor, or just its size (estimates). */
type MakeBuffer<X> = (shape: number[], label: string, dtype: "f32" | "i32" | "u32") => X;

/**
 * The one description of the step's buffers, for any `make`. withGrad: also the gradient
 * scratch. Without it nothing is kept for a backward, so all layers share one set of
 * per-layer buffers (each layer's output is the next one's input, and a layer overwrites
 * xOut only after reading it): forward-only memory does not grow with depth.
 */
function buildActivations<X>(cfg: GPTConfig, B: number, T: number, withGrad: boolean, make: MakeBuffer<X>) {
  const N = B * T, C = cfg.n_embd, H = cfg.n_head, Hkv = cfg.n_kv_head, hd = C / H;
  const t = (shape: number[], label: string, dtype: "f32" | "i32" | "u32" = "f32") => make(shape, label, dtype);
  const layers: { [K in keyof LayerActivations]: X }[] = [];
  for (let l = 0; l < cfg.n_layer; l++) {
    if (!withGrad && l > 0) {
      layers.push(layers[0]);
      continue;
    }
    const p = withGrad ? `h${l}.` : "h*.";
    layers.push({
      xn1: t([N, C], p + "xn1"), rstd1: t([N], p + "rstd1"),
      q: t([N, H * hd], p + "q"), k: t([N, Hkv * hd], p + "k"), v: t([N, Hkv * hd], p + "v"),
      qRot: t([N, H * hd], p + "q_rot"), kRot: t([N, Hkv * hd], p + "k_rot"),
      rstdQ: t([N * H], p + "rstd_q"), rstdK: t([N * Hkv], p + "rstd_k"),
      y: t([N, C], p + "attn_y"), lse: t([B * H * T], p + "attn_lse"),
      xMid: t([N, C], p + "x_mid"),
      xn2: t([N, C], p + "xn2"), rstd2: t([N], p + "rstd2"),
      hPre: t([N, 4 * C], p + "h_pre"), hAct: t([N, 4 * C], p + "h_act"),
      xOut: t([N, C], p + "x_out"),
    });
  }
  const grads = withGrad
    ? {
      dRes: t([N, C], "d_res"), dXn: t([N, C], "d_xn"), dY: t([N, C], "d_attn_y"),
      dH: t([N, 4 * C], "d_h"), dHPre: t([N, 4 * C], "d_h_pre"),
      dQ: t([N, H * hd], "d_q"), dK: t([N, Hkv * hd], "d_k"), dV: t([N, Hkv * hd], "d_v"),
      dQRot: t([N, H * hd], "d_q_rot"), dKRot: t([N, Hkv * hd], "d_k_rot"),
      delta: t([B * H * T], "attn_delta"),
    }
    : null;
  return {
    idx: t([N], "idx", "u32"), targets: t([N], "targets", "i32"), lossWeights: t([N], "loss_weights"),
    emb: t([N, C], "emb"), rstd0: t([N], "rstd0"), x0: t([N, C], "x0"),
    layers,
    xf: t([N, C], "xf"), rstdF: t([N], "rstd_f"),
    proj: t([N, C], "proj"),
    losses: t([N], "losses"), loss: t([1], "loss"),
    grads,
  };
}

export function allocateActivations(gpu: Gpu, cfg: GPTConfig, B: number, T: number, withGrad: boolean): Activations {
  const all: Tensor[] = [];
  const acts = buildActivations(cfg, B, T, withGrad, (shape, label, dtype) => {
    const x = createTensor(gpu, shape, dtype, label);
    all.push(x);
    return x;
  });
  return { ...acts, destroy: () => all.forEach((x) => x.destroy()) };
}

/** Bytes allocateActivations allocates for this (config, B, T), computed without a GPU. */
export function activationBytesFor(cfg: GPTConfig, B: number, T: number, withGrad: boolean): number {
  let bytes = 0;
  buildActivations(cfg, B, T, withGrad, (shape, _label, dtype) => {
    bytes += tensorBytes(shape, dtype);
  });
  return bytes;
}

/** Bytes held by the activation and gradient-scratch buffers. */
export function activationBytes(a: Activations): number {
  const seen = new Set<GPUBuffer>();
  let bytes = 0;
  const visit = (x: unknown) => {
    if (x && typeof x === "object" && "buffer" in x && (x as Tensor).buffer instanceof GPUBuffer) {
      const b = (x as Tensor).buffer;
      if (!seen.has(b)) {
        seen.add(b);
        bytes += b.size;
      }
    } else if (x && typeof x === "object") {
      for (const v of Object.values(x)) visit(v);
    }
  };
  visit(a);
  return bytes;
}
