// The forms a trained checkpoint's weights can be stored in for inference, each built
// exactly as `deno task export checkpoint --save-dtype …` writes it and loaded back as the
// engine and the lab load it — in memory, so the precision experiment
// (`deno task experiment mxfp4`) measures the very bytes a user would download.
//
//   f32          the master weights, as trained
//   f16, bf16    every tensor rounded to 16 bits (widened to f32 on load: the GPU computes as for f32)
//   MXFP4        the blocks' matrices in OCP MXFP4 (4.25 bits a weight), wte and lm_head bf16:
//                the layers most sensitive to rounding kept higher
//   MXFP4 (all)  every matrix MXFP4, wte and lm_head too
//
// The MXFP4 forms keep their blocks on the GPU and multiply by them directly (src/nn/mxfp4.ts).
import { decodeCheckpoint, encodeCheckpoint, type LoadedCheckpoint, MODEL_FILE, type SaveDtype } from "../formats/checkpoint.ts";
import { concatChunks } from "../formats/zip.ts";

export interface WeightForm {
  label: string;
  dtype: SaveDtype;
  mxfp4All: boolean;
}

export const WEIGHT_FORMS: readonly WeightForm[] = [
  { label: "f32", dtype: "f32", mxfp4All: false },
  { label: "f16", dtype: "f16", mxfp4All: false },
  { label: "bf16", dtype: "bf16", mxfp4All: false },
  { label: "MXFP4", dtype: "mxfp4", mxfp4All: false },
  { label: "MXFP4 (all)", dtype: "mxfp4", mxfp4All: true },
];

/** The checkpoint stored in `form` and loaded back: model.safetensors' size and what a loader gets from it. */
export async function inForm(ckpt: LoadedCheckpoint, form: WeightForm): Promise<{ modelBytes: number; loaded: LoadedCheckpoint }> {
  const m = ckpt.meta;
  const files = new Map(
    encodeCheckpoint(m.step, {
      params: ckpt.params, cfg: ckpt.cfg,
      meta: { user_config: m.user_config, val_bpb: m.val_bpb, loader_state: null, rng_state: null, metrics: {}, tokenizer: m.tokenizer, stage: m.stage, source: m.source, created_at: m.created_at },
    }, { weightsDtype: form.dtype, mxfp4All: form.mxfp4All }).map((f) => [f.name, concatChunks(f.chunks)]),
  );
  const loaded = await decodeCheckpoint((name) => Promise.resolve(files.get(name) ?? null), `${form.label} copy of step ${m.step}`, { withOptimizer: false });
  return { modelBytes: files.get(MODEL_FILE)!.length, loaded };
}
