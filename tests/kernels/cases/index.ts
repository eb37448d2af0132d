// Every kernel case, in one list, for the Deno tests and the Chromium page alike.
import type { KernelCase } from "../harness.ts";
import { attentionCases } from "./attention.ts";
import { boundsCases } from "./bounds.ts";
import { layerCases } from "./layers.ts";
import { matmulCases } from "./matmul.ts";
import { mxfp4Cases } from "./mxfp4.ts";
import { optimCases } from "./optim.ts";

export const ALL_CASES: Record<string, KernelCase[]> = {
  matmul: matmulCases,
  layers: layerCases,
  optim: optimCases,
  attention: attentionCases,
  bounds: boundsCases,
  mxfp4: mxfp4Cases,
};
