// The reference's optimizer split for the GPT: AdamW for the embedding and lm_head
// (LRs scaled by (n_embd/768)^-0.5), Muon for every matrix inside the blocks, one
// global gradient norm (optionally clipping) shared by both.
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import { readF32, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { AdamW, NANOCHAT_ADAMW } from "./adamw.ts";
import { GradNorm } from "./grad_norm.ts";
import { Muon } from "./muon.ts";
import { UserError } from "../util/errors.ts";
import { adamLrScale } from "./schedule.ts";

export interface OptimizerConfig {
  embeddingLr: number;
  unembeddingLr: number;
  matrixLr: number;
  weightDecay: number;
  /** Global-norm clip; ≤ 0 computes the norm without clipping. */
  gradClip: number;
  /** false: AdamW for the matrices too (the comparison run of the overfitting test). */
  useMuon: boolean;
  /** AdamW LR for the matrices when useMuon is false. */
  matrixAdamLr?: number;
}

export const NANOCHAT_OPTIM: OptimizerConfig = {
  embeddingLr: 0.2,
  unembeddingLr: 0.004,
  matrixLr: 0.02,
  weightDecay: 0,
  gradClip: 1.0,
  useMuon: true,
};

/** Which optimizer a parameter belongs to, and the config field its base LR comes from. */
export function paramGroup(name: string, useMuon: boolean): { optimizer: "adamw" | "muon"; lr: "embeddingLr" | "unembeddingLr" | "matrixLr" | "matrixAdamLr" } {
  if (name === "transformer.wte.weight") return { optimizer: "adamw", lr: "embeddingLr" };
  if (name === "lm_head.weight") return { optimizer: "adamw", lr: "unembeddingLr" };
  return useMuon ? { optimizer: "muon", lr: "matrixLr" } : { optimizer: "adamw", lr: "matrixAdamLr" };
}

export class ModelOptimizer {
  readonly ops: Op[] = [];
  private constructor(readonly adamw: AdamW, readonly muon: Muon | null, readonly gradNorm: GradNorm) {}

  static async create(
    gpu: Gpu, nEmbd: number, params: Map<string, Tensor>, grads: Map<string, Tensor>, cfg: OptimizerConfig,
  ): Promise<ModelOptimizer> {
    const names = [...params.keys()];
    const gradNorm = await GradNorm.create(gpu, names.map((n) => grads.get(n)!), cfg.gradClip);
    const s = adamLrScale(nEmbd);
    const adamParams = [];
    const muonParams = [];
    for (const name of names) {
      const entry = { name, param: params.get(name)!, grad: grads.get(name)! };
      const group = paramGroup(name, cfg.useMuon);
      if (group.optimizer === "muon") muonParams.push({ ...entry, lr: cfg.matrixLr });
      else if (group.lr === "matrixAdamLr") adamParams.push({ ...entry, lr: cfg.matrixAdamLr ?? cfg.unembeddingLr * s });
      else adamParams.push({ ...entry, lr: cfg[group.lr] * s });
    }
    const adamw = await AdamW.create(gpu, adamParams, { ...NANOCHAT_ADAMW, weightDecay: cfg.weightDecay }, gradNorm.state);
    const muon = muonParams.length ? await Muon.create(gpu, muonParams, gradNorm.state) : null;
    const opt = new ModelOptimizer(adamw, muon, gradNorm);
    opt.ops.push(...gradNorm.ops, ...adamw.ops, ...(muon?.ops ?? []));
    return opt;
  }

  /** Sets this step's LR multiplier and Muon momentum; then record `ops` after the backward. */
  prepareStep(lrMultiplier: number, momentum: number): void {
    this.adamw.prepareStep(lrMultiplier);
    this.muon?.prepareStep(lrMultiplier, momentum);
  }

  /** Every state tensor under a stable name: adamw.m/v.<param>, muon.momentum.<param>. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, s] of this.adamw.state) {
      out.set(`adamw.m.${name}`, s.m);
      out.set(`adamw.v.${name}`, s.v);
    }
    for (const [name, s] of this.muon?.state ?? []) out.set(`muon.momentum.${name}`, s.momentum);
    return out;
  }

  /** The optimizer state as host arrays plus step counters (for optim.safetensors). */
  async saveState(): Promise<{ tensors: Map<string, Float32Array>; meta: Record<string, string> }> {
    const tensors = new Map<string, Float32Array>();
    for (const [name, t] of this.stateTensors()) tensors.set(name, await readF32(t));
    return { tensors, meta: { adamw_step: String(this.adamw.step), muon_step: String(this.muon?.step ?? 0) } };
  }

  /** Restores what saveState() returned; every tensor must be present with the same size. */
  loadState(state: { tensors: Map<string, Float32Array>; meta: Record<string, string> }, source = "optimizer state"): void {
    for (const [name, t] of this.stateTensors()) {
      const v = state.tensors.get(name);
      if (!v) throw new UserError(`${source}: missing ${name} (was it saved by a different optimizer setup?)`);
      if (v.length !== t.size) throw new UserError(`${source}: ${name} has ${v.length} values, expected ${t.size}`);
      writeTensor(t, v);
    }
    this.adamw.step = Number(state.meta.adamw_step ?? 0);
    if (this.muon) this.muon.step = Number(state.meta.muon_step ?? 0);
  }

  destroy(): void {
    this.adamw.destroy();
    this.muon?.destroy();
    this.gradNorm.destroy();
  }
}
