import assert from "node:assert/strict";
import { denoFiles } from "../../src/io/deno_files.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import {
  CheckpointError, type CheckpointMetaInput, listCheckpointsInStore, loadCheckpointFromStore, safetensorsChunks, selectCheckpoints,
} from "../../src/formats/checkpoint.ts";
import {
  checkpointDir, findCheckpoint, latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint,
} from "../../src/train/deno_checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../../src/formats/safetensors.ts";
import { Rng } from "../../src/util/rng.ts";

const CFG: GPTConfig = { sequence_len: 16, vocab_size: 40, n_layer: 2, n_head: 2, n_kv_head: 1, n_embd: 8 };
const MODULE = new URL("../../src/train/deno_checkpoint.ts", import.meta.url).href;

function makeParams(seed: number, cfg = CFG): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const { name, shape } of paramShapes(cfg)) out.set(name, Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()));
  // Values a lossy path would change: -0, a subnormal, the extremes, a NaN payload.
  const w = out.get("transformer.wte.weight")!;
  w.set([-0, 1e-40, 3.4028234663852886e38, -Infinity]);
  new Uint32Array(w.buffer)[4] = 0x7fc12345;
  return out;
}

function makeOptimizer(params: Map<string, Float32Array>, seed: number) {
  const rng = new Rng(seed);
  const tensors = new Map<string, Float32Array>();
  for (const [name, p] of params) {
    if (name.startsWith("transformer.h.")) tensors.set(`muon.momentum.${name}`, p.map(() => rng.normal()));
    else {
      tensors.set(`adamw.m.${name}`, p.map(() => rng.normal()));
      tensors.set(`adamw.v.${name}`, p.map(() => rng.uniform()));
    }
  }
  return { tensors, meta: { adamw_step: "12", muon_step: "12" } };
}

function makeMeta(extra: Partial<CheckpointMetaInput> = {}): CheckpointMetaInput {
  return {
    user_config: { depth: 2, run: "t", total_batch_size: 256 },
    val_bpb: 1.25,
    loader_state: { version: 1, shardIndex: 0, shard: "shard_00000.parquet", rowGroup: 3, docOffset: 7, buffer: [1, 2, 3], epoch: 0 },
    rng_state: new Rng(42).state(),
    metrics: { loss_ema: 3.5, train_seconds: 12.5 },
    tokenizer: { hash: "abc123", vocab_size: 40 },
    ...extra,
  };
}

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

function assertSameTensors(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>) {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [name, v] of expected) assert.deepEqual(bits(actual.get(name)!), bits(v), name);
}

async function withRun(fn: (runDir: string) => Promise<void>) {
  const runDir = await Deno.makeTempDir({ prefix: "ckpt_test_" });
  try {
    await fn(runDir);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
}

const ls = async (dir: string) => (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();

Deno.test("checkpoint: round trip is bitwise (params, optimizer state, meta) in the documented layout", () =>
  withRun(async (runDir) => {
    const params = makeParams(1), optimizer = makeOptimizer(params, 2);
    const dir = await saveCheckpoint(runDir, 5, { params, cfg: CFG, optimizer, meta: makeMeta() });
    assert.equal(dir, `${runDir}/checkpoints/step_000005`);
    assert.deepEqual(await ls(`${runDir}/checkpoints`), ["step_000005"], "no temporary directory is left");
    assert.deepEqual(await ls(dir), ["meta.json", "model.safetensors", "optim.safetensors"]);

    // model.safetensors: nanochat's names and PyTorch (out, in) shapes, float32, state_dict order.
    const model = decodeSafetensors(await Deno.readFile(`${dir}/model.safetensors`));
    assert.deepEqual([...model.tensors.keys()], paramShapes(CFG).map((p) => p.name));
    assert.deepEqual(model.tensors.get("transformer.h.1.attn.c_k.weight")!.shape, [4, 8]); // n_kv_head·hd × n_embd
    assert.deepEqual(model.tensors.get("transformer.h.0.mlp.c_proj.weight")!.shape, [8, 32]);
    assert.ok([...model.tensors.values()].every((t) => t.dtype === "F32"));
    const optim = decodeSafetensors(await Deno.readFile(`${dir}/optim.safetensors`));
    assert.deepEqual(optim.metadata, { adamw_step: "12", muon_step: "12" });
    assert.deepEqual(optim.tensors.get("adamw.m.lm_head.weight")!.shape, [40, 8], "state tensors take their parameter's shape");

    assert.deepEqual(await listCheckpoints(runDir), [5]);
    assert.deepEqual(await latestCheckpoint(runDir), { step: 5, dir });
    const ck = await loadCheckpoint(dir);
    assertSameTensors(ck.params, params);
    assertSameTensors(ck.optimizer!.tensors, optimizer.tensors);
    assert.deepEqual(ck.optimizer!.meta, optimizer.meta);
    assert.deepEqual(ck.cfg, CFG);
    const want = makeMeta();
    assert.equal(ck.meta.step, 5);
    assert.equal(ck.meta.format_version, 1);
    assert.deepEqual(ck.meta.model_config, CFG);
    for (const k of ["user_config", "val_bpb", "loader_state", "rng_state", "metrics", "tokenizer"] as const) assert.deepEqual(ck.meta[k], want[k], k);
    assert.ok(!Number.isNaN(Date.parse(ck.meta.created_at)));
    // The saved generator continues the same stream.
    const a = new Rng(42), b = Rng.fromState(ck.meta.rng_state as [number, number, number, number]);
    a.state();
    assert.deepEqual([a.nextU32(), a.nextU32()], [b.nextU32(), b.nextU32()]);

    // The browser's path (FileStore) reads the same thing.
    const store = denoFiles("/");
    assert.deepEqual([...(await listCheckpointsInStore(store, runDir))], [[5, "step_000005"]]);
    assertSameTensors((await loadCheckpointFromStore(store, dir)).params, params);
  }));

Deno.test("checkpoint: chunked safetensors writer gives exactly encodeSafetensors' bytes", () => {
  const t = [
    { name: "a.weight", shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => i / 7) },
    { name: "b", shape: [1], data: Float32Array.of(-2) },
  ];
  for (const meta of [{}, { step: "3", note: "x" }] as Record<string, string>[]) {
    const chunks = safetensorsChunks(t, meta);
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) (joined.set(c, off), off += c.length);
    assert.deepEqual(joined, encodeSafetensors(new Map(t.map((x) => [x.name, { dtype: "F32" as const, shape: x.shape, data: x.data }])), meta));
  }
});

Deno.test("checkpoint: an interrupted save leaves the previous checkpoint listed and loadable; the next save cleans up", () =>
  withRun(async (runDir) => {
    const p1 = makeParams(1);
    await saveCheckpoint(runDir, 1, { params: p1, cfg: CFG, meta: makeMeta() });
    const root = `${runDir}/checkpoints`;
    // What a process killed during the save of step 2 leaves: a temp dir with some files,
    // one of them cut short.
    const tmp = `${root}/step_000002.tmp-99999-0`;
    await Deno.mkdir(tmp);
    const full = encodeSafetensors(makeParams(2));
    await Deno.writeFile(`${tmp}/model.safetensors`, full.subarray(0, 100));
    // And a half-deleted old checkpoint (deletes go through .del-*), and a stray empty dir.
    await Deno.mkdir(`${root}/step_000000.del-99999-1`);
    await Deno.mkdir(`${root}/step_000003`);

    assert.deepEqual(await listCheckpoints(runDir), [1]);
    assert.equal((await latestCheckpoint(runDir))!.step, 1);
    assertSameTensors((await loadCheckpoint(checkpointDir(runDir, 1))).params, p1);

    const p2 = makeParams(2);
    await saveCheckpoint(runDir, 2, { params: p2, cfg: CFG, meta: makeMeta() });
    assert.deepEqual(await ls(root), ["step_000001", "step_000002", "step_000003"], "leftovers removed");
    assert.deepEqual(await listCheckpoints(runDir), [1, 2]);
    assertSameTensors((await loadCheckpoint(checkpointDir(runDir, 2))).params, p2);
  }));

Deno.test("checkpoint: a crash between the two renames of a replace keeps the old copy visible and restores it", () =>
  withRun(async (runDir) => {
    const p2 = makeParams(2);
    await saveCheckpoint(runDir, 2, { params: p2, cfg: CFG, meta: makeMeta() });
    const root = `${runDir}/checkpoints`;
    // Replace of step 2 interrupted: step_2 renamed aside, the new copy still a temp dir.
    await Deno.rename(`${root}/step_000002`, `${root}/step_000002.old-99999-0`);
    await Deno.mkdir(`${root}/step_000002.tmp-99999-1`);
    assert.deepEqual(await listCheckpoints(runDir), [2]);
    const dir = await findCheckpoint(runDir, 2);
    assert.equal(dir, `${root}/step_000002.old-99999-0`);
    assertSameTensors((await loadCheckpoint(dir!)).params, p2);
    await saveCheckpoint(runDir, 3, { params: makeParams(3), cfg: CFG, meta: makeMeta() });
    assert.deepEqual(await ls(root), ["step_000002", "step_000003"]);
    assertSameTensors((await loadCheckpoint(`${root}/step_000002`)).params, p2);
    // Replacing an existing step writes the new contents.
    const p3b = makeParams(33);
    await saveCheckpoint(runDir, 3, { params: p3b, cfg: CFG, meta: makeMeta() });
    assert.deepEqual(await ls(root), ["step_000002", "step_000003"]);
    assertSameTensors((await loadCheckpoint(`${root}/step_000003`)).params, p3b);
  }));

Deno.test("checkpoint: kill -9 of a process in the middle of saving never loses the last complete checkpoint", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "ckpt_kill_" });
  // The child saves steps 1, 2, 3… (every one twice, to exercise replaces), printing each
  // step once it is complete; params of step s are all equal to s.
  const code = `
    import { saveCheckpoint } from ${JSON.stringify(MODULE)};
    const cfg = ${JSON.stringify({ ...CFG, vocab_size: 4096, n_embd: 64, n_head: 2, n_kv_head: 2 })};
    const { paramShapes } = await import(${JSON.stringify(new URL("../../src/model/config.ts", import.meta.url).href)});
    for (let s = 1; ; s++) for (let rep = 0; rep < 2; rep++) {
      const params = new Map(paramShapes(cfg).map((p) => [p.name, new Float32Array(p.shape[0] * p.shape[1]).fill(s)]));
      await saveCheckpoint(${JSON.stringify(runDir)}, s, { params, cfg, meta: { user_config: {}, loader_state: null, rng_state: null, metrics: {}, tokenizer: null } }, { keepLast: 2 });
      console.log(s);
    }`;
  try {
    for (const delayMs of [3, 17, 41]) {
      const child = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped", stderr: "piped" }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let printed = "";
      while (printed.split("\n").length < 4) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the saving process exited early: ${await new Response(child.stderr).text()}`);
        printed += value;
      }
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill("SIGKILL");
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel();
      const lastDone = Math.max(...printed.trim().split("\n").map(Number));
      const steps = await listCheckpoints(runDir);
      assert.ok(steps.length >= 1 && steps.at(-1)! >= lastDone, `after a kill: ${steps} (last reported ${lastDone})`);
      for (const s of steps) {
        const ck = await loadCheckpoint((await findCheckpoint(runDir, s))!);
        assert.ok([...ck.params.values()].every((v) => v.every((x) => x === s)), `step ${s} holds its own values`);
      }
    }
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("checkpoint: a truncated model.safetensors is a SafetensorsError naming the file and the way out", () =>
  withRun(async (runDir) => {
    await saveCheckpoint(runDir, 1, { params: makeParams(1), cfg: CFG, meta: makeMeta() });
    const dir = await saveCheckpoint(runDir, 2, { params: makeParams(2), cfg: CFG, meta: makeMeta() });
    const bytes = await Deno.readFile(`${dir}/model.safetensors`);
    await Deno.writeFile(`${dir}/model.safetensors`, bytes.subarray(0, bytes.length - 10));
    const err = await loadCheckpoint(dir).then(() => null, (e) => e);
    assert.ok(err instanceof SafetensorsError, String(err));
    assert.equal(err.userFacing, true);
    assert.match(err.message, /step_000002\/model\.safetensors: tensor lm_head\.weight: data .* \(truncated\?\)/);
    assert.match(err.message, /delete .*step_000002 or resume from step 1/);
  }));

Deno.test("checkpoint: wrong, missing or extra tensors are errors naming the tensor, expected vs found", () =>
  withRun(async (runDir) => {
    const dir = await saveCheckpoint(runDir, 1, { params: makeParams(1), cfg: CFG, meta: makeMeta() });
    const good = decodeSafetensors(await Deno.readFile(`${dir}/model.safetensors`)).tensors;
    const rewrite = async (edit: (m: Map<string, { dtype: "F32"; shape: number[]; data: Float32Array }>) => void) => {
      const m = new Map([...good].map(([k, t]) => [k, { dtype: "F32" as const, shape: t.shape, data: t.data as Float32Array }]));
      edit(m);
      await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(m));
      return loadCheckpoint(dir).then(() => null, (e) => e);
    };
    let err = await rewrite((m) => (m.get("transformer.h.1.attn.c_k.weight")!.shape = [8, 4]));
    assert.ok(err instanceof CheckpointError && err.userFacing);
    assert.match(err.message, /model\.safetensors: tensor transformer\.h\.1\.attn\.c_k\.weight has shape \[8,4\], expected \[4,8\]/);
    assert.match(err.message, /delete .*step_000001; the run has no other complete checkpoint/);
    err = await rewrite((m) => m.delete("lm_head.weight"));
    assert.match(err.message, /tensor lm_head\.weight is missing \(expected shape \[40,8\]\)/);
    err = await rewrite((m) => m.set("transformer.h.2.attn.c_q.weight", { dtype: "F32", shape: [8, 8], data: new Float32Array(64) }));
    assert.match(err.message, /unexpected tensor transformer\.h\.2\.attn\.c_q\.weight/);
  }));

Deno.test("checkpoint: meta.json problems name the file and the field", () =>
  withRun(async (runDir) => {
    const dir = await saveCheckpoint(runDir, 1, { params: makeParams(1), cfg: CFG, meta: makeMeta() });
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/meta.json`));
    const expectError = async (value: unknown, re: RegExp) => {
      await Deno.writeTextFile(`${dir}/meta.json`, typeof value === "string" ? value : JSON.stringify(value));
      await assert.rejects(loadCheckpoint(dir), (e: Error & { userFacing?: boolean }) => {
        assert.ok(e instanceof CheckpointError && e.userFacing, String(e));
        assert.match(e.message, re);
        return true;
      });
    };
    await expectError("{ not json", /step_000001\/meta\.json is not valid JSON/);
    const { loader_state: _, ...noLoader } = meta;
    await expectError(noLoader, /meta\.json: field "loader_state" is missing/);
    await expectError({ ...meta, step: -1 }, /meta\.json: field "step" must be a non-negative integer/);
    await expectError({ ...meta, model_config: { ...meta.model_config, n_head: 3 } }, /meta\.json: field "model_config" is invalid: .*n_embd \(8\) must be divisible by n_head \(3\)/);
    await expectError({ ...meta, rng_state: [1, 2] }, /field "rng_state" must be null, four uint32 words/);
    await expectError({ ...meta, format_version: 9 }, /field "format_version" is 9, newer than this code reads/);
    await Deno.remove(`${dir}/meta.json`);
    await assert.rejects(loadCheckpoint(dir), /meta\.json is missing: .* is not a complete checkpoint/);
    assert.deepEqual(await listCheckpoints(runDir), [], "a directory without meta.json is not listed");
  }));

Deno.test("checkpoint: nanochat-style export (BF16 weights, _orig_mod. prefix, nanochat's meta) loads", () =>
  withRun(async (runDir) => {
    const dir = `${runDir}/export`;
    await Deno.mkdir(dir);
    const tensors = new Map<string, { dtype: "BF16"; shape: number[]; data: Uint16Array }>();
    for (const { name, shape } of paramShapes(CFG)) {
      const data = Uint16Array.from({ length: shape[0] * shape[1] }, (_, i) => [0x3f80, 0xc000, 0x3e00, 0x0000][i % 4]); // 1, -2, 0.125, 0
      tensors.set(`_orig_mod.${name}`, { dtype: "BF16", shape, data });
    }
    await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
    await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify({ step: 21400, val_bpb: 0.81, model_config: CFG, user_config: { depth: 2 }, device_batch_size: 32, max_seq_len: 16 }));
    const ck = await loadCheckpoint(dir);
    assert.equal(ck.meta.step, 21400);
    assert.equal(ck.meta.format_version, 0);
    assert.equal(ck.optimizer, undefined);
    assert.deepEqual([...ck.params.get("lm_head.weight")!.subarray(0, 8)], [1, -2, 0.125, 0, 1, -2, 0.125, 0]);
  }));

Deno.test("checkpoint: keepLast prunes the oldest, never the newest nor the one just saved", () =>
  withRun(async (runDir) => {
    const save = (s: number, keepLast?: number) => saveCheckpoint(runDir, s, { params: makeParams(s), cfg: CFG, meta: makeMeta() }, { keepLast });
    for (let s = 1; s <= 5; s++) await save(s * 10, 2);
    assert.deepEqual(await listCheckpoints(runDir), [40, 50]);
    await save(30, 2); // e.g. resumed from an earlier step: 50 is newer and stays
    assert.deepEqual(await listCheckpoints(runDir), [30, 50]);
    await save(60, 1);
    assert.deepEqual(await listCheckpoints(runDir), [60]);
    await save(70);
    assert.deepEqual(await listCheckpoints(runDir), [60, 70], "no keepLast keeps everything");
    assert.deepEqual(await ls(`${runDir}/checkpoints`), ["step_000060", "step_000070"]);
  }));

Deno.test("checkpoint: params that do not match the config are refused before anything is written", () =>
  withRun(async (runDir) => {
    const params = makeParams(1);
    params.delete("transformer.h.0.mlp.c_fc.weight");
    await assert.rejects(saveCheckpoint(runDir, 1, { params, cfg: CFG, meta: makeMeta() }), /parameter transformer\.h\.0\.mlp\.c_fc\.weight is missing/);
    const big = makeParams(1);
    big.set("lm_head.weight", new Float32Array(3));
    await assert.rejects(saveCheckpoint(runDir, 1, { params: big, cfg: CFG, meta: makeMeta() }), /lm_head\.weight has 3 values, expected \[40,8\]/);
    assert.deepEqual(await listCheckpoints(runDir), []);
    assert.deepEqual(await ls(runDir), []);
  }));

Deno.test("checkpoint listing: steps come out in step order whatever order the directory lists them", () => {
  const names = ["step_000020", "step_000005", "step_000100", "step_000010", "step_000005.tmp-1"];
  assert.deepEqual([...selectCheckpoints(names).keys()], [5, 10, 20, 100]);
  // Past six digits the names no longer sort as text ("step_1000000" < "step_999999").
  assert.deepEqual([...selectCheckpoints(["step_999999", "step_1000000", "step_000005"]).keys()], [5, 999999, 1000000]);
});
