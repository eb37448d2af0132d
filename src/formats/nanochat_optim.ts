// nanochat's optimizer file, optim_NNNNNN.pt = [AdamW.state_dict(), Muon.state_dict()],
// built from the lab's optimizer state (src/optim/optimizer.ts names: adamw.m.<param>,
// adamw.v.<param>, muon.momentum.<param>; step counters in meta).
//
// torch's Optimizer.state_dict() numbers parameters across its groups in order, and
// load_state_dict() refuses groups whose sizes differ from the optimizer's, so the groups
// must be exactly nanochat's: AdamW [lm_head], [wte] (base_train's order), and Muon one
// group per distinct numel in the order CPython iterates `{p.numel() for p in params}`
// (pythonSetOrder below reproduces that order).
//
// Runtime-agnostic.
import { type GPTConfig, numel, paramShapes } from "../model/config.ts";
import { PyDict, PyTuple } from "./pickle.ts";
import { PyFloat, type PyOut } from "./pickle_write.ts";
import { NanochatFormatError } from "./nanochat.ts";
import { TorchWriter } from "./torch_save.ts";

/**
 * The iteration order of a Python set of non-negative ints (< 2^61) built by adding
 * `values` in order: CPython's set table (8 slots to start, 10-slot linear probes, then
 * perturbed probing; resized ×4 when 60% full), whose slot order is the iteration order.
 */
export function pythonSetOrder(values: readonly number[]): number[] {
  let table: (number | null)[] = new Array(8).fill(null);
  let used = 0;
  const insert = (t: (number | null)[], v: number): boolean => {
    const mask = t.length - 1;
    let perturb = BigInt(v), i = v % t.length;
    for (;;) {
      const probes = i + 9 <= mask ? 9 : 0;
      for (let j = 0; j <= probes; j++) {
        if (t[i + j] === null) return (t[i + j] = v), true;
        if (t[i + j] === v) return false;
      }
      perturb >>= 5n;
      i = Number((BigInt(i) * 5n + 1n + perturb) & BigInt(mask));
    }
  };
  for (const v of values) {
    if (!insert(table, v)) continue;
    used++;
    if (used * 5 >= (table.length - 1) * 3) { // no deletions, so fill == used
      let size = 8;
      while (size <= (used > 50000 ? used * 2 : used * 4)) size *= 2;
      const old = table.filter((x): x is number => x !== null);
      table = new Array(size).fill(null);
      for (const x of old) insert(table, x);
    }
  }
  return table.filter((x): x is number => x !== null);
}

export interface OptimLrs { embeddingLr: number; unembeddingLr: number; matrixLr: number; weightDecay: number }

/** The pickle value of optim_NNNNNN.pt for torch.save (tensors registered with `w`). */
export function nanochatOptimizer(
  w: TorchWriter, cfg: GPTConfig, state: { tensors: Map<string, Float32Array>; meta: Record<string, string> }, lrs: OptimLrs,
): PyOut {
  const shapes = new Map(paramShapes(cfg).map((p) => [p.name, p.shape]));
  const get = (name: string, param: string) => {
    const v = state.tensors.get(name);
    const shape = shapes.get(param)!;
    if (!v || v.length !== numel(shape)) throw new NanochatFormatError(`optimizer state ${name} is missing or not of shape [${shape}] (was the run trained with Muon?)`);
    return w.tensor({ dtype: "F32", shape, data: v });
  };
  const s = (cfg.n_embd / 768) ** -0.5; // base_train's dmodel_lr_scale
  // AdamW: base_train's groups [lm_head], [wte]; 'step' is a float32 scalar tensor.
  const adamStep = Number(state.meta.adamw_step ?? 0);
  const adamState = new PyDict();
  const adamGroups: PyOut[] = [];
  ["lm_head.weight", "transformer.wte.weight"].forEach((p, i) => {
    const st = new PyDict();
    st.set("step", w.tensor({ dtype: "F32", shape: [], data: Float32Array.of(adamStep) }) as never);
    st.set("exp_avg", get(`adamw.m.${p}`, p) as never);
    st.set("exp_avg_sq", get(`adamw.v.${p}`, p) as never);
    adamState.set(i, st);
    const lr = (p === "lm_head.weight" ? lrs.unembeddingLr : lrs.embeddingLr) * s;
    adamGroups.push(group({
      lr: new PyFloat(lr), betas: new PyTuple([new PyFloat(0.8) as never, new PyFloat(0.95) as never]), eps: new PyFloat(1e-10),
      weight_decay: new PyFloat(lrs.weightDecay), amsgrad: false, foreach: null, maximize: false, capturable: false, differentiable: false,
      fused: null, initial_lr: new PyFloat(lr), params: [i],
    }));
  });
  // Muon: every matrix of transformer.h (state_dict order), grouped by numel in set order.
  const matrices = [...shapes.keys()].filter((n) => n.startsWith("transformer.h."));
  const muonState = new PyDict();
  const muonGroups: PyOut[] = [];
  let index = 0;
  for (const size of pythonSetOrder(matrices.map((n) => numel(shapes.get(n)!)))) {
    const ids: number[] = [];
    for (const p of matrices.filter((n) => numel(shapes.get(n)!) === size)) {
      const st = new PyDict();
      st.set("momentum_buffer", get(`muon.momentum.${p}`, p) as never);
      muonState.set(index, st);
      ids.push(index++);
    }
    muonGroups.push(group({
      lr: new PyFloat(lrs.matrixLr), momentum: new PyFloat(0.95), nesterov: true, ns_steps: 5, initial_lr: new PyFloat(lrs.matrixLr), params: ids,
    }));
  }
  const dict = (st: PyDict, groups: PyOut[]) => group({ state: st, param_groups: groups });
  return [dict(adamState, adamGroups), dict(muonState, muonGroups)];
}

function group(fields: Record<string, PyOut>): PyDict {
  const d = new PyDict();
  for (const [k, v] of Object.entries(fields)) d.set(k, v as never);
  return d;
}
