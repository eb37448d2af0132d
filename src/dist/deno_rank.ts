// DENO-ONLY: one rank ≥ 1 of a data-parallel run, as a child process of rank 0
// (deno_world.ts starts it). It owns a WebGPU device on the adapter its environment selects
// (MESA_VK_DEVICE_SELECT, VK_ICD_FILENAMES), holds a replica of the model (no optimizer:
// rank 0 steps, step.ts says why) and answers rank 0's frames on stdin/stdout:
//
//   init {cfg, B, T, rank}  → ready {adapter, pid}
//   weights (flat float32)  → (loads them; no answer: the next frame waits behind it)
//   gradients {scale, n, weights?} + token ids → gradients {losses} + flat float32 gradient
//
// Its messages go to stderr (rank 0 keeps the last lines for the error if this rank dies).
// stdin ending means rank 0 is gone: the rank exits at once, so none is ever left behind.
import { acquireGpu } from "../gpu/device.ts";
import { runOps } from "../gpu/kernel.ts";
import { readBuffer } from "../gpu/tensor.ts";
import type { GPTConfig } from "../model/config.ts";
import { GPT } from "../model/gpt.ts";
import { errorMessage } from "../util/errors.ts";
import { bytesOf, encodeFrame, f32Of, FrameReader } from "./frames.ts";
import { flatten, unflatten } from "./step.ts";

const out = Deno.stdout.writable.getWriter();
const send = async (kind: string, head: Record<string, unknown> = {}, data?: Uint8Array) => {
  for (const part of encodeFrame(kind, head, data)) await out.write(part);
};

async function main(): Promise<void> {
  const frames = new FrameReader(Deno.stdin.readable, "rank 0");
  const init = await frames.next();
  if (!init || init.kind !== "init") throw new Error(`expected init from rank 0, got ${init?.kind ?? "the end of stdin"}`);
  const { cfg, B, T, rank } = init.head as { cfg: GPTConfig; B: number; T: number; rank: number };
  const gpu = await acquireGpu();
  const model = await GPT.create(gpu, cfg, { B, T, training: true });
  await send("ready", { adapter: gpu.description, pid: Deno.pid });
  const N = B * T;
  for (let f = await frames.next(); f; f = await frames.next()) {
    if (f.kind === "weights") {
      model.loadParams(unflatten(cfg, f32Of(f.data)));
    } else if (f.kind === "gradients") {
      const { scale, n, weighted } = f.head as { scale: number; n: number; weighted: boolean };
      const ids = new Int32Array(f.data.slice().buffer);
      const per = weighted ? 3 * N : 2 * N;
      if (ids.length !== n * per) throw new Error(`rank ${rank}: ${ids.length} values for ${n} micro-batches of ${N} tokens`);
      const losses: Promise<ArrayBuffer>[] = [];
      for (let i = 0; i < n; i++) {
        const at = i * per;
        const weights = weighted ? new Float32Array(ids.buffer, (at + 2 * N) * 4, N) : undefined;
        model.setBatch(ids.subarray(at, at + N), ids.subarray(at + N, at + 2 * N), { gradScale: scale, weights });
        await runOps(gpu, [...(i === 0 ? model.zeroGradOps : []), ...model.forwardOps, ...model.backwardOps], `rank ${rank}: micro-batch ${i + 1}/${n}`);
        losses.push(readBuffer(gpu, model.acts.loss.buffer, 0, 4));
      }
      const values = (await Promise.all(losses)).map((b) => new Float32Array(b)[0]);
      await send("gradients", { losses: values }, bytesOf(flatten(cfg, await model.readGrads())));
    } else {
      throw new Error(`rank ${rank}: unknown frame '${f.kind}' from rank 0`);
    }
  }
  // stdin closed: rank 0 is done (or gone).
  model.destroy();
}

main().then(() => Deno.exit(0), async (err) => {
  const message = errorMessage(err);
  console.error(message);
  await send("error", { message }).catch(() => {});
  Deno.exit(1);
});
