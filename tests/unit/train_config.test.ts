import assert from "node:assert/strict";
import { helpText, parseFlags } from "../../src/cli/args.ts";
import { ConfigError } from "../../src/model/config.ts";
import { NANOCHAT_OPTIM } from "../../src/optim/optimizer.ts";
import { BASE_SCHEDULE } from "../../src/optim/schedule.ts";
import { overridesFromFlags, presetArg, RUN_CONFIG_FLAGS, runConfigFlags } from "../../src/cli/run_flags.ts";
import { estimateTrainingMemory } from "../../src/train/memory.ts";
import { BUILTIN_PRESETS, loadPresetConfig, loadRlSampling, loadStagePreset } from "../../src/train/presets.ts";
import { DEFAULT_RUN_CONFIG, RUN_CONFIG_FIELDS, RunConfigError, resolveRunConfig } from "../../src/train/run_config.ts";

const GiB = 2 ** 30;

Deno.test("run config: defaults are the reference's base_train settings", () => {
  const r = resolveRunConfig();
  assert.deepEqual(r.model, { sequence_len: 2048, vocab_size: 65536, n_layer: 20, n_head: 10, n_kv_head: 10, n_embd: 1280 });
  assert.equal(r.config.run, "d20");
  assert.equal(r.config.seed, 42);
  assert.equal(r.config.eval_every, 250);
  assert.equal(r.config.eval_tokens, 20 * 524288);
  assert.equal(r.config.sample_every, 2000);
  const { useMuon: _, ...opt } = r.optimizer;
  const { useMuon: __, ...ref } = NANOCHAT_OPTIM;
  assert.deepEqual(opt, ref, "LRs 0.2 / 0.004 / 0.02, weight decay 0, clip 1.0");
  assert.deepEqual(r.schedule, BASE_SCHEDULE, "warmup 0, warmdown 0.2, final 0");
  assert.equal(r.gradAccumSteps, 8, "524288 / (32·2048) on one adapter");
  assert.equal(resolveRunConfig({ world_size: 8 }).gradAccumSteps, 1, "8 GPUs: no accumulation, as in the speedrun");
  assert.equal(r.evalSteps, 160);
});

Deno.test("run config: horizon precedence and the reference's numbers", () => {
  const table: [number, number, number, number][] = [
    // depth, params, FLOPs/token, iterations at ratio 20 and 2^19 tokens/step (reference §2)
    [12, 185_597_952, 1.038e9, 7_080],
    [20, 560_988_160, 3.4918e9, 21_400],
    [26, 1_081_999_360, 6.901e9, 41_275],
    [32, 1_879_048_192, 1.208e10, 71_680],
  ];
  for (const [depth, params, fpt, iters] of table) {
    const r = resolveRunConfig({ depth });
    assert.equal(r.numParams, params, `d${depth} params`);
    assert.ok(Math.abs(r.flopsPerToken / fpt - 1) < 1e-3, `d${depth} FLOPs/token ${r.flopsPerToken}`);
    assert.equal(r.numIterations, iters, `d${depth} iterations`);
    assert.equal(r.horizon, "target_param_data_ratio");
  }
  const d20 = resolveRunConfig({ depth: 20 });
  assert.ok(Math.abs(d20.totalFlops / 3.92e19 - 1) < 0.01, "d20 ≈ 3.92e19 FLOPs");
  // target_flops wins over the ratio: round(F / (flops_per_token · total_batch)).
  const byFlops = resolveRunConfig({ depth: 20, target_flops: 1e19 });
  assert.equal(byFlops.horizon, "target_flops");
  assert.equal(byFlops.numIterations, Math.round(1e19 / (d20.flopsPerToken * 524288)));
  assert.equal(byFlops.numIterations, 5462);
  // num_iterations wins over both.
  const fixed = resolveRunConfig({ depth: 20, target_flops: 1e19 }, { num_iterations: 77 });
  assert.deepEqual([fixed.horizon, fixed.numIterations, fixed.totalTokens], ["num_iterations", 77, 77 * 524288]);
  // Ratio with another batch: floor(ratio·params / batch).
  assert.equal(resolveRunConfig({ depth: 12, target_param_data_ratio: 8, total_batch_size: 262144 }).numIterations, Math.floor((8 * 185_597_952) / 262144));
});

Deno.test("run config: explicit dims override the depth rule", () => {
  const r = resolveRunConfig({ depth: 3, n_embd: 96, n_head: 4, n_kv_head: 2, vocab_size: 512, max_seq_len: 64, device_batch_size: 2, total_batch_size: 256, eval_tokens: 256 });
  assert.deepEqual(r.model, { sequence_len: 64, vocab_size: 512, n_layer: 3, n_head: 4, n_kv_head: 2, n_embd: 96 });
  assert.equal(r.config.run, "L3_C96");
  assert.equal(r.gradAccumSteps, 2);
});

Deno.test("run config: validation names the field and the allowed values", () => {
  const err = (base: Record<string, unknown>, re: RegExp) => {
    assert.throws(() => resolveRunConfig(base as never), (e: Error & { userFacing?: boolean }) => {
      assert.ok(e instanceof RunConfigError && e instanceof ConfigError && e.userFacing === true, String(e));
      assert.match(e.message, re);
      return true;
    });
  };
  err({ total_batch_size: 500000 }, /total_batch_size \(500000\) must be divisible by device_batch_size·max_seq_len·world_size = 32·2048·1 = 65536; use total_batch_size 524288/);
  err({ device_batch_size: 24 }, /must be divisible .* or device_batch_size one of 1, 2, 4, 8, 16, 32, 64, 128, 256/);
  err({ depth: "12" }, /run config: depth must be an integer in \[1, 256\], got "12"/);
  err({ depth: 2.5 }, /depth must be an integer/);
  err({ matrix_lr: NaN }, /matrix_lr must be a number in \[0, 100\], got null/);
  err({ warmdown_ratio: 1.5 }, /warmdown_ratio must be a number in \[0, 1\], got 1\.5/);
  err({ warmup_ratio: 0.5, warmdown_ratio: 0.6 }, /warmup_ratio \+ warmdown_ratio \(0\.5 \+ 0\.6\) must be at most 1/);
  err({ num_iterations: 0 }, /num_iterations must be an integer in \[1, 1000000000\], or -1 \(derive from target_flops or the ratio\), got 0/);
  err({ target_param_data_ratio: -1 }, /no training horizon: set num_iterations, target_flops or target_param_data_ratio/);
  err({ target_flops: 10 }, /target_flops = 10 gives 0 iterations/);
  err({ eval_tokens: 1000 }, /eval_tokens \(1000\) is less than one validation batch .* use at least 65536/);
  err({ run: "../x" }, /run must be letters, digits, '\.', '_' and '-' \(it names a directory\), got "\.\.\/x"/);
  err({ data_dir: " " }, /data_dir must be a non-empty path/);
  err({ n_embd: 100, n_head: 3 }, /n_embd \(100\) must be divisible by n_head \(3\)/);
  err({ depth: 5 }, /depth 5 → n_embd 320, n_head 3.*must be divisible by n_head/);
  err({ devise_batch_size: 8 }, /unknown field "devise_batch_size" \(did you mean device_batch_size\?\); the fields are: run, runs_dir/);
  assert.throws(() => resolveRunConfig({}, { seed: -3 }), /seed must be an integer in \[0, 4294967295\], got -3/);
  // Every field rejects a value of the wrong type.
  for (const f of RUN_CONFIG_FIELDS) {
    const wrong = typeof DEFAULT_RUN_CONFIG[f] === "string" ? 3 : "3";
    assert.throws(() => resolveRunConfig({ [f]: wrong }), new RegExp(`run config: ${f} must be `), f);
  }
});

Deno.test("run config: flags are generated from the fields and override a preset", async () => {
  assert.deepEqual(Object.keys(RUN_CONFIG_FLAGS), ["config", ...RUN_CONFIG_FIELDS.map((f) => f.replaceAll("_", "-"))]);
  const { unset: _, ...dbs } = RUN_CONFIG_FLAGS["device-batch-size"] as unknown as Record<string, unknown>;
  assert.deepEqual(dbs, { type: "number", default: 32, help: "sequences per forward/backward on each adapter", integer: true, min: 1, max: 65536 });
  assert.equal(RUN_CONFIG_FLAGS["data-dir"].type, "string");
  assert.match(RUN_CONFIG_FLAGS["num-iterations"].help, /-1: derive from target_flops or the ratio/);
  const help = helpText("train base", "Pretrain.", RUN_CONFIG_FLAGS);
  assert.match(help, /--total-batch-size <number> +tokens per optimizer step.*\(default: 524288\)/);
  assert.match(help, /--target-param-data-ratio <number>/);

  // The CLI's flow: find --config, load it, build the flags with the preset's values as
  // defaults, parse, resolve. Absent flags keep the preset; given flags win.
  const args = ["--config", "tiny", "--num-iterations", "20", "--matrix-lr=0.03", "--run", "tiny_fast"];
  assert.equal(presetArg(args), "tiny");
  assert.equal(presetArg(["--config=d12"]), "d12");
  assert.equal(presetArg(["--depth", "4"]), null);
  const preset = await loadPresetConfig(presetArg(args)!);
  const parsed = parseFlags(args, "train base", "Pretrain.", runConfigFlags(preset))!;
  const r = resolveRunConfig(preset, overridesFromFlags(parsed.flags));
  assert.deepEqual([r.numIterations, r.config.matrix_lr, r.config.run], [20, 0.03, "tiny_fast"]);
  assert.deepEqual([r.config.depth, r.config.vocab_size, r.config.device_batch_size], [2, 4096, 8], "preset values kept");
  assert.equal(overridesFromFlags({ config: "x", "keep-last": 3, bogus: 1 }).keep_last, 3);
  assert.deepEqual(Object.keys(overridesFromFlags({ config: "x", bogus: 1 })), []);
});

Deno.test("run config: presets load, validate and carry the documented numbers", async () => {
  const loaded = new Map<string, ReturnType<typeof resolveRunConfig>>();
  for (const name of BUILTIN_PRESETS) loaded.set(name, resolveRunConfig(await loadPresetConfig(name)));

  const tiny = loaded.get("tiny")!;
  assert.deepEqual(tiny.model, { sequence_len: 128, vocab_size: 4096, n_layer: 2, n_head: 2, n_kv_head: 2, n_embd: 128 });
  assert.equal(tiny.numParams, 1_441_792);
  assert.equal(tiny.flopsPerToken, 5_898_240);
  assert.deepEqual([tiny.numIterations, tiny.config.total_batch_size, tiny.gradAccumSteps], [50, 1024, 1]);
  // The comment's budget: (model + Newton–Schulz) per step ≈ 7.3 GFLOP; base + one epoch of
  // offline-mid + SFT ≈ 335 step-equivalents.
  const perStep = tiny.flopsPerToken * 1024 + 1.26e9;
  assert.ok(Math.abs(perStep - 7.3e9) < 0.05e9, `a tiny step is ${perStep / 1e9} GFLOP`);
  const { mid, sft } = await import("../../configs/tiny.ts");
  assert.deepEqual([mid.mixture, sft.mixture, sft.max_seq_len, sft.target_examples_per_step], ["offline-mid", "offline-sft", 96, 16]);

  const d12 = loaded.get("d12")!;
  assert.deepEqual([d12.model.n_embd, d12.model.n_head, d12.numIterations, d12.gradAccumSteps], [768, 6, 7080, 16]);
  const d20 = loaded.get("d20")!;
  assert.deepEqual([d20.model.n_layer, d20.config.max_seq_len, d20.config.device_batch_size, d20.config.total_batch_size], [20, 2048, 32, 524288]);
  assert.equal(d20.numIterations, 21_400);
  // d32 (run1000): the header's horizon and memory (≈ 97 GiB at device batch 8, under 60 GiB at 4).
  const d32 = loaded.get("d32")!;
  assert.deepEqual([d32.model.n_embd, d32.model.n_head, d32.numParams, d32.numIterations], [2048, 16, 1_879_048_192, 71_680]);
  assert.ok(Math.abs(estimateTrainingMemory(d32).total / GiB - 97) < 0.5);
  assert.ok(estimateTrainingMemory({ model: d32.model, config: { ...d32.config, device_batch_size: 4 } }).total / GiB < 60);
  // The big presets train the chat stages on the reference's data and evaluate its six tasks.
  for (const name of ["d12", "d20", "d32", "dual_gpu/roomy_80gb"]) {
    assert.deepEqual([(await loadStagePreset(name, "mid")).mixture, (await loadStagePreset(name, "sft")).mixture, (await loadStagePreset(name, "rl")).mixture], ["reference-mid", "reference-sft", "gsm8k"], name);
  }

  // Dual-GPU tiers: world size 2, the d20 horizon, and the estimate under 75% of the tier.
  for (const [name, gib, batch] of [["dual_gpu/tight_16gb", 16, 1], ["dual_gpu/stable_26gb", 26, 2], ["dual_gpu/roomy_80gb", 80, 8]] as const) {
    const r = loaded.get(name)!;
    const mem = estimateTrainingMemory(r).total / GiB;
    assert.deepEqual([r.config.world_size, r.config.device_batch_size, r.numIterations], [2, batch, 21_400], name);
    assert.equal(r.gradAccumSteps, 524288 / (batch * 2048 * 2));
    assert.ok(mem < 0.75 * gib, `${name}: ${mem.toFixed(1)} GiB`);
    const bigger = estimateTrainingMemory({ model: r.model, config: { ...r.config, device_batch_size: 2 * batch } }).total / GiB;
    assert.ok(bigger >= 0.75 * gib, `${name}: twice the batch (${bigger.toFixed(1)} GiB) would cross the 75% line`);
  }
});

Deno.test("run config: memory estimate counts params, optimizer state and per-token activations", () => {
  // depth 1, C 64, 1 head, V 256, B·T = 2·32: counted by hand from src/model/activations.ts.
  const r = resolveRunConfig({ depth: 1, vocab_size: 256, max_seq_len: 32, device_batch_size: 2, total_batch_size: 64, eval_tokens: 64 });
  const m = estimateTrainingMemory(r);
  const C = 64, N = 64, P = 2 * 256 * C + 12 * C * C;
  assert.equal(m.params, 4 * P);
  assert.equal(m.grads, 4 * P);
  assert.equal(m.optimizer, 4 * (4 * 256 * C + 12 * C * C));
  const perLayer = 18 * C + 2 + 3; // 18 C-wide buffers, rstd1/rstd2, rstdQ, rstdK, lse
  const grads = 16 * C + 1, top = 4 * C + 6; // top: idx, targets, loss weights, rstd0, rstdF, losses
  assert.equal(m.activations, 4 * N * (perLayer + grads + top) + 4); // + the mean loss
  // One 64×256 logits chunk; rotary tables 2·32·32; embedding backward 3N+1 ids; grad norm
  // state 4 + ceil(size/4096) partials per tensor (wte, lm_head, c_fc, mlp.c_proj: 4 each;
  // c_q, c_k, c_v, attn.c_proj: 1 each); Newton–Schulz batched by shape: 2 X for the two
  // C×4C iterates (c_fc transposed, mlp.c_proj), A and B for the four C×C Gram matrices,
  // 4 partials (of one C×4C matrix) + 4.
  const partials = 4 * 4 + 4 * 1;
  assert.equal(m.scratch, 4 * (N * 256 + 2 * 32 * 32 + 3 * N + 1 + 4 + partials + 2 * (2 * 4 * C * C) + 2 * (4 * C * C) + 4 + 4));
  assert.equal(m.total, m.params + m.grads + m.optimizer + m.activations + m.scratch);
});

Deno.test("run config: preset errors list the presets or name the bad field", async () => {
  await assert.rejects(loadPresetConfig("d13"), (e: Error & { userFacing?: boolean }) => {
    assert.ok(e instanceof RunConfigError && e.userFacing === true);
    assert.match(e.message, /unknown preset "d13"; available presets: d12, d20, d32, dual_gpu\/roomy_80gb, dual_gpu\/stable_26gb, dual_gpu\/tight_16gb, tiny/);
    return true;
  });
  await assert.rejects(loadPresetConfig("../etc/passwd"), /not a preset name or a \.ts path; available presets: d12/);
  const dir = await Deno.makeTempDir({ prefix: "preset_test_" });
  try {
    const cfgModule = new URL("../../src/train/run_config.ts", import.meta.url).href;
    await Deno.writeTextFile(`${dir}/mine.ts`, `import type { RunConfig } from ${JSON.stringify(cfgModule)};\nconst p: Partial<RunConfig> = { depth: 4, run: "mine" };\nexport default p;\n`);
    assert.deepEqual(await loadPresetConfig(`${dir}/mine.ts`), { depth: 4, run: "mine" });
    await Deno.writeTextFile(`${dir}/typo.ts`, `export default { depht: 4 };\n`);
    await assert.rejects(loadPresetConfig(`${dir}/typo.ts`), /preset .*typo\.ts: run config: unknown field "depht" \(did you mean depth\?\)/);
    await Deno.writeTextFile(`${dir}/bad.ts`, `export default { device_batch_size: 3 };\n`);
    await assert.rejects(loadPresetConfig(`${dir}/bad.ts`), /preset .*bad\.ts: run config: total_batch_size \(524288\) must be divisible/);
    await Deno.writeTextFile(`${dir}/nodefault.ts`, `export const x = 1;\n`);
    await assert.rejects(loadPresetConfig(`${dir}/nodefault.ts`), /must 'export default' an object/);
    await assert.rejects(loadPresetConfig(`${dir}/missing.ts`), /preset file .*missing\.ts does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("presets: the tiny preset's rl and rlSampling exports; a bad rlSampling key or value is named", async () => {
  assert.deepEqual(await loadRlSampling("tiny"), { samples: 8, maxNewTokens: 40, evalProblems: 200, evalSamples: 4 });
  const rl = await loadStagePreset("tiny", "rl");
  assert.deepEqual([rl.target_examples_per_step, rl.mixture, rl.init_lr_frac], [16, "arithmetic-long", 0.25]);
  assert.deepEqual(await loadRlSampling("d12"), {});
  const dir = await Deno.makeTempDir({ prefix: "preset_rl_" });
  try {
    await Deno.writeTextFile(`${dir}/typo.ts`, `export default {};\nexport const rlSampling = { sample: 4 };\n`);
    await assert.rejects(loadRlSampling(`${dir}/typo.ts`), /rlSampling\.sample is not a setting; the settings are samples, maxNewTokens/);
    await Deno.writeTextFile(`${dir}/str.ts`, `export default {};\nexport const rlSampling = { samples: "8" };\n`);
    await assert.rejects(loadRlSampling(`${dir}/str.ts`), /rlSampling\.samples must be a number, got "8"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
