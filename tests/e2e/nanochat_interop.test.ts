// `deno task import nanochat` / `export nanochat` end to end, against real PyTorch:
// - the fixture PyTorch wrote (tests/fixtures/nanochat/tiny_gpt.py) imports into a run
//   whose GPU logits match PyTorch's within 1e-4 (relative to the largest logit) with the
//   same greedy tokens;
// - export → import is bitwise for fp32 and exact to bf16 for the bf16 embedding;
// - where an interpreter with torch exists, the export loads with
//   torch.load(weights_only=True), PyTorch's GPT gives our logits, the optimizer file
//   loads into nanochat's optimizer grouping, and tokenizer.pkl (read with Python's own
//   pickle; tiktoken is not installed here, so the check compares the mergeable ranks,
//   pattern and specials instead of encoding) and token_bytes.pt equal ours;
// - hostile or broken inputs are refused with a clear message and write nothing.
import assert from "node:assert/strict";
import { toBFloat16 } from "../../src/formats/bf16.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { paramShapes } from "../../src/model/config.ts";
import { InferenceGPT } from "../../src/model/inference.ts";
import { createParamTensors, writeParams } from "../../src/model/tensors.ts";
import { loadTokenizer } from "../../src/tokenizer/store.ts";
import { denoFiles } from "../../src/io/deno_files.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/deno_checkpoint.ts";
import { saveTokenizer } from "../../src/tokenizer/store.ts";
import { writeRunInfo } from "../../src/train/deno_metrics.ts";
import { Rng } from "../../src/util/rng.ts";
import { testGpu } from "../kernels/gpu.ts";
import { startLabServer } from "../../src/server/server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIX = `${ROOT}tests/fixtures/nanochat`;
const CKPT = `${FIX}/base_checkpoints/d2`;
const TMP = await Deno.makeTempDir({ prefix: "nanochat-interop-" });
const RUNS = `${TMP}/runs`;
const expected = JSON.parse(await Deno.readTextFile(`${FIX}/expected.json`)) as { prompt: number[]; logits: number[]; greedy: number[] };
const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
const opts = { sanitizeResources: false, sanitizeOps: false };

async function task(script: "import" | "export", ...args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", `${ROOT}src/cli/${script}.ts`, ...args], cwd: ROOT, stdout: "piped", stderr: "piped" }).output();
  return { ok: r.success, out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}
async function mustRun(script: "import" | "export", ...args: string[]): Promise<string> {
  const r = await task(script, ...args);
  assert.ok(r.ok, r.out);
  return r.out;
}

/** An interpreter that imports torch: `python3` first, then Debian's. */
async function torchPython(): Promise<string | null> {
  for (const py of ["python3", "/usr/bin/python3"]) {
    const ok = await new Deno.Command(py, { args: ["-c", "import torch"], stdout: "null", stderr: "null" }).output().then((r) => r.success, () => false);
    if (ok) return py;
  }
  return null;
}
const PY = await torchPython();
if (!PY) console.log("nanochat interop: no python3 imports torch (apt-get install python3-torch): the PyTorch-side checks are skipped");

async function gpuLogits(runDir: string, prompt: number[], greedyN: number): Promise<{ logits: Float32Array; greedy: number[] }> {
  const gpu = await testGpu();
  const dirs = [...Deno.readDirSync(`${runDir}/checkpoints`)].map((e) => e.name).sort();
  const ckpt = await loadCheckpoint(`${runDir}/checkpoints/${dirs.at(-1)}`);
  const cfg = ckpt.cfg, T = cfg.sequence_len;
  const tensors = createParamTensors(gpu, cfg);
  writeParams(tensors, cfg, ckpt.params);
  const model = await InferenceGPT.create(gpu, cfg, tensors, { B: 1, T });
  const ids = [...prompt], inputs = new Int32Array(T);
  inputs.set(ids);
  const logits = await model.logitsAt(inputs, ids.length - 1);
  for (let i = 0; i < greedyN; i++) {
    inputs.set(ids);
    const l = await model.logitsAt(inputs, ids.length - 1);
    ids.push(l.indexOf(Math.max(...l)));
  }
  model.destroy();
  for (const t of tensors.values()) t.destroy();
  return { logits, greedy: ids.slice(prompt.length) };
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxDiff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i])), scale = Math.max(scale, Math.abs(want[i]));
  console.log(`${what}: max |Δ| ${maxDiff.toExponential(2)} (largest logit ${scale.toFixed(2)})`);
  assert.ok(maxDiff <= 1e-4 * scale, `${what}: max |Δ| ${maxDiff} is over 1e-4 × ${scale}`);
}

Deno.test({
  ...opts,
  name: "import nanochat: PyTorch's checkpoint becomes a run whose GPU logits match PyTorch's (1e-4 relative) with the same greedy tokens",
  fn: async () => {
    await mustRun("import", "nanochat", CKPT, "--run", "from-torch", "--runs-dir", RUNS);
    for (const f of ["run.json", "tokenizer/tokenizer.json", "checkpoints/step_000010/meta.json", "checkpoints/step_000010/model.safetensors"]) {
      assert.ok(await exists(`${RUNS}/from-torch/${f}`), `${f} written`);
    }
    const got = await gpuLogits(`${RUNS}/from-torch`, expected.prompt, expected.greedy.length);
    assertClose(got.logits, expected.logits, "imported vs PyTorch");
    assert.deepEqual(got.greedy, expected.greedy);
    const tok = await loadTokenizer(denoFiles("."), `${RUNS}/from-torch/tokenizer`);
    assert.equal(tok.vocabSize, 296);
    assert.equal(tok.bosId, 287);
  },
});

async function labTask(script: string, ...args: string[]): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", `${ROOT}src/cli/${script}.ts`, ...args], cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
  const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.ok(r.success, `${script} ${args.join(" ")}:\n${out}`);
  return out;
}

Deno.test({
  ...opts,
  name: "an imported run is an ordinary run: chat replies, eval chat scores it, train sft --from fine-tunes it, the lab server lists and serves it",
  fn: async () => {
    if (!(await exists(`${RUNS}/from-torch/run.json`))) await mustRun("import", "nanochat", CKPT, "--run", "from-torch", "--runs-dir", RUNS);
    const chat = await labTask("chat", "--run", "from-torch", "--runs-dir", RUNS, "-p", "What is 2 plus 2?", "--max-tokens", "4");
    assert.doesNotMatch(chat, /error/i);
    const ev = await labTask("eval", "chat", "-a", "arithmetic", "--run", "from-torch", "--runs-dir", RUNS, "--max-problems", "2", "--max-tokens", "4", "--no-lineage");
    assert.match(ev, /\| arithmetic \| \d+\.\d% \(\d\/2\) \|/);
    await labTask("train", "sft", "--from", "from-torch", "--run", "from-torch-sft", "--runs-dir", RUNS, "--num-iterations", "2", "--max-seq-len", "32", "--device-batch-size", "2", "--target-examples-per-step", "2", "--eval-every", "-1");
    const sft = await loadCheckpoint(`${RUNS}/from-torch-sft/checkpoints/step_000002`);
    assert.equal(sft.meta.source, "from-torch/step_000010");
    assert.equal(sft.meta.stage, "sft");
    const losses = (await Deno.readTextFile(`${RUNS}/from-torch-sft/metrics.jsonl`)).split("\n").filter((l) => l.includes('"type":"train"')).map((l) => JSON.parse(l).loss);
    assert.equal(losses.length, 2);
    assert.ok(losses.every(Number.isFinite), `${losses}`);
    // The lab: the run is listed with its checkpoint, and the page's chat gets the weights and tokenizer it loads.
    const server = await startLabServer({ runsDir: RUNS, webDir: null, port: 0 });
    try {
      const url = server.url.replace(/\/$/, "");
      const runs = await (await fetch(`${url}/api/runs`)).json() as { runs: { name: string; checkpoints: number[] }[] };
      assert.deepEqual(runs.runs.find((r) => r.name === "from-torch")?.checkpoints, [10]);
      const model = await fetch(`${url}/api/runs/from-torch/checkpoints/10/model.safetensors`);
      assert.equal(model.status, 200);
      assert.deepEqual(new Uint8Array(await model.arrayBuffer()), await Deno.readFile(`${RUNS}/from-torch/checkpoints/step_000010/model.safetensors`));
      const tokFile = await fetch(`${url}/api/runs/from-torch/tokenizer/tokenizer.json`);
      assert.equal(tokFile.status, 200);
      assert.equal((await tokFile.json()).hash, (await loadTokenizer(denoFiles("."), `${RUNS}/from-torch/tokenizer`)).hash);
    } finally {
      await server.close();
    }
  },
});

/** A lab run with fp32 weights no bf16 holds exactly, and optimizer state. */
async function labRun(name: string, cfg: GPTConfig): Promise<{ params: Map<string, Float32Array>; opt: Map<string, Float32Array> }> {
  const rng = new Rng(7);
  const params = new Map(paramShapes(cfg).map(({ name, shape }) => [name, Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal() * 0.3)]));
  const opt = new Map<string, Float32Array>();
  for (const [n, v] of params) {
    if (n.startsWith("transformer.h.")) opt.set(`muon.momentum.${n}`, v.map(() => rng.normal()));
    else opt.set(`adamw.m.${n}`, v.map(() => rng.normal())), opt.set(`adamw.v.${n}`, v.map(() => Math.abs(rng.normal())));
  }
  const tok = await loadTokenizer(denoFiles("."), `${RUNS}/from-torch/tokenizer`);
  const runDir = `${RUNS}/${name}`;
  await saveTokenizer(denoFiles("."), `${runDir}/tokenizer`, tok);
  await saveCheckpoint(runDir, 4, {
    params, cfg, optimizer: { tensors: opt, meta: { adamw_step: "4", muon_step: "4" } },
    meta: { user_config: { embedding_lr: 0.2, matrix_lr: 0.02 }, val_bpb: null, loader_state: null, rng_state: null, metrics: {}, tokenizer: { hash: tok.hash, vocab_size: tok.vocabSize }, stage: "base" },
  });
  await writeRunInfo(runDir, { name, stage: "base", config: {}, adapter: "test", started_at: new Date().toISOString(), status: "finished", step: 4 });
  return { params, opt };
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const CFG: GPTConfig = { sequence_len: 32, vocab_size: 296, n_layer: 2, n_head: 2, n_kv_head: 1, n_embd: 32 };

Deno.test({
  ...opts,
  name: "export → import: bitwise with an fp32 embedding; the bf16 embedding is exactly bf16(wte), every other weight bitwise",
  fn: async () => {
    const { params } = await labRun("lab", CFG);
    await mustRun("export", "nanochat", "--run", "lab", "--runs-dir", RUNS, "--out", `${TMP}/nc32`, "--embedding-dtype", "fp32");
    await mustRun("export", "nanochat", "--run", "lab", "--runs-dir", RUNS, "--out", `${TMP}/nc16`);
    await mustRun("import", "nanochat", `${TMP}/nc32/base_checkpoints/d2`, "--run", "back32", "--runs-dir", RUNS);
    await mustRun("import", "nanochat", `${TMP}/nc16/base_checkpoints/d2`, "--run", "back16", "--runs-dir", RUNS);
    const b32 = (await loadCheckpoint(`${RUNS}/back32/checkpoints/step_000004`)).params;
    const b16 = (await loadCheckpoint(`${RUNS}/back16/checkpoints/step_000004`)).params;
    for (const [n, v] of params) {
      assert.deepEqual(bits(b32.get(n)!), bits(v), `${n} (fp32 export)`);
      if (n === "transformer.wte.weight") {
        assert.deepEqual(bits(b16.get(n)!), Uint32Array.from(toBFloat16(v), (h) => (h << 16) >>> 0), "wte rounded to bf16 exactly once");
        assert.notDeepEqual(bits(b16.get(n)!), bits(v), "the test weights are not all bf16-representable");
      } else assert.deepEqual(bits(b16.get(n)!), bits(v), `${n} (bf16 export)`);
    }
    // The same tokenizer comes back (identity hash).
    const t0 = await loadTokenizer(denoFiles("."), `${RUNS}/lab/tokenizer`), t1 = await loadTokenizer(denoFiles("."), `${RUNS}/back16/tokenizer`);
    assert.equal(t1.hash, t0.hash);
    // A second export over the same step is refused, and leaves no staging directory.
    const again = await task("export", "nanochat", "--run", "lab", "--runs-dir", RUNS, "--out", `${TMP}/nc16`);
    assert.ok(!again.ok && /_000004\.(pt|json) already exists; export to another --out \(nothing was written\)/.test(again.out), again.out);
    assert.deepEqual([...Deno.readDirSync(`${TMP}/nc16`)].map((e) => e.name).sort(), ["base_checkpoints", "tokenizer"]);
  },
});

Deno.test({
  ...opts,
  ignore: !PY,
  name: "export nanochat: PyTorch loads it (weights_only), gives our logits and greedy tokens; the optimizer, tokenizer.pkl and token_bytes.pt read back in Python",
  fn: async () => {
    await mustRun("export", "nanochat", "--run", "from-torch", "--runs-dir", RUNS, "--out", `${TMP}/nc`);
    const py = await new Deno.Command(PY!, { args: [`${FIX}/tiny_gpt.py`, "check", `${TMP}/nc/base_checkpoints/d2`, "10", JSON.stringify(expected.prompt)], stdout: "piped", stderr: "piped" }).output();
    assert.ok(py.success, new TextDecoder().decode(py.stderr));
    const r = JSON.parse(new TextDecoder().decode(py.stdout));
    assert.equal(r.dtypes["transformer.wte.weight"], "torch.bfloat16");
    assert.equal(r.dtypes["lm_head.weight"], "torch.float32");
    assert.deepEqual(r.model_config, CFG);
    const ours = await gpuLogits(`${RUNS}/from-torch`, expected.prompt, 0);
    assertClose(r.logits, ours.logits, "PyTorch on the export vs our GPU");
    assert.deepEqual(r.greedy, expected.greedy);
    const tok = await loadTokenizer(denoFiles("."), `${RUNS}/from-torch/tokenizer`);
    assert.equal(r.tokenizer.name, "rustbpe");
    assert.equal(r.tokenizer.pat_str, String.raw`'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`);
    const ourRanks = Array.from({ length: tok.vocabSize - 9 }, (_, id) => [...tok.tokenLatin1(id)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(""));
    assert.deepEqual(r.tokenizer.ranks, ourRanks);
    assert.deepEqual(r.tokenizer.rank_ids, ourRanks.map((_, i) => i));
    assert.deepEqual(r.tokenizer.special_tokens, Object.fromEntries(tok.specialTokens.map((s) => [s, tok.specialId(s)])));
    // Encoding the same text the same way follows: identical ranks + pattern + specials
    // define tiktoken's encoding. Our ids for a text, decoded through the Python ranks:
    const ids = tok.encodeOrdinary("hello world, the lab");
    assert.equal(ids.map((i) => r.tokenizer.ranks[i]).join(""), [...new TextEncoder().encode("hello world, the lab")].map((b) => b.toString(16).padStart(2, "0")).join(""));
    assert.equal(r.token_bytes.dtype, "torch.int32");
    assert.deepEqual(r.token_bytes.values, [...tok.tokenBytes()]);

    // Optimizer: loads into AdamW([lm_head],[wte]) and the Muon grouping by numel (Python's set order).
    const { opt } = await labRun("lab-opt", CFG);
    await mustRun("export", "nanochat", "--run", "lab-opt", "--runs-dir", RUNS, "--out", `${TMP}/nco`, "--optimizer");
    const po = await new Deno.Command(PY!, { args: [`${FIX}/tiny_gpt.py`, "check", `${TMP}/nco/base_checkpoints/d2`, "4", "[1, 2]"], stdout: "piped", stderr: "piped" }).output();
    assert.ok(po.success, new TextDecoder().decode(po.stderr));
    const o = JSON.parse(new TextDecoder().decode(po.stdout)).optim;
    const sum = (a: Float32Array) => a.reduce((s, x) => s + x, 0);
    assert.equal(o.adam_step, 4);
    assert.ok(Math.abs(o.wte_exp_avg_sum - sum(opt.get("adamw.m.transformer.wte.weight")!)) < 1e-3);
    assert.equal(o.first_muon_numel, 32 * 32);
    assert.ok(Math.abs(o.first_muon_momentum_sum - sum(opt.get("muon.momentum.transformer.h.0.attn.c_q.weight")!)) < 1e-3);
  },
});

/** A nanochat directory built from the fixture with one file replaced. */
async function brokenDir(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = `${TMP}/bad/${name}/base_checkpoints/d2`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.mkdir(`${TMP}/bad/${name}/tokenizer`, { recursive: true });
  for (const f of ["model_000010.pt", "meta_000010.json"]) await Deno.copyFile(`${CKPT}/${f}`, `${dir}/${f}`);
  for (const f of ["tokenizer.pkl", "token_bytes.pt"]) await Deno.copyFile(`${FIX}/tokenizer/${f}`, `${TMP}/bad/${name}/tokenizer/${f}`);
  await edit(dir);
  return dir;
}

Deno.test({
  ...opts,
  name: "import nanochat: a hostile pickle, a truncated zip, a wrong-shaped model, a hostile tokenizer.pkl are refused; nothing is written",
  fn: async () => {
    const { concatChunks, zipChunks } = await import("../../src/formats/zip.ts");
    const evilZip = async (pkl: string) => concatChunks(zipChunks([{ name: "model_000010/data.pkl", data: await Deno.readFile(`${FIX}/${pkl}`) }, { name: "model_000010/version", data: new TextEncoder().encode("3\n") }]));
    const model = await Deno.readFile(`${CKPT}/model_000010.pt`);
    const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
      ["os-system", async (d) => Deno.writeFile(`${d}/model_000010.pt`, await evilZip("evil_os_system.pkl")), /refusing the global posix\.system/],
      ["eval", async (d) => Deno.writeFile(`${d}/model_000010.pt`, await evilZip("evil_eval.pkl")), /refusing the global __builtin__\.eval/],
      ["unknown-class", async (d) => Deno.writeFile(`${d}/model_000010.pt`, await evilZip("unknown_class.pkl")), /refusing the global nanochat\.secret\.Thing/],
      ["truncated", (d) => Deno.writeFile(`${d}/model_000010.pt`, model.subarray(0, model.length - 300)), /model_000010\.pt: .*truncated/],
      ["wrong-shape", async (d) => {
        const meta = JSON.parse(await Deno.readTextFile(`${d}/meta_000010.json`));
        meta.model_config.n_kv_head = 2;
        await Deno.writeTextFile(`${d}/meta_000010.json`, JSON.stringify(meta));
      }, /tensor transformer\.h\.0\.attn\.c_k\.weight has shape \[16,32\], but the model_config makes it \[32,32\]/],
      ["evil-tokenizer", (d) => Deno.copyFile(`${FIX}/evil_os_system.pkl`, `${d}/../../tokenizer/tokenizer.pkl`), /tokenizer\.pkl: refusing the global posix\.system/],
    ];
    for (const [name, edit, why] of cases) {
      const dir = await brokenDir(name, edit);
      const r = await task("import", "nanochat", dir, "--run", `bad-${name}`, "--runs-dir", RUNS);
      assert.ok(!r.ok, `${name}: refused`);
      assert.match(r.out, why, name);
      assert.ok(!/at .*\.ts:\d+/.test(r.out), `${name}: a user error, no stack: ${r.out}`);
      assert.equal(await exists(`${RUNS}/bad-${name}`), false, `${name}: no run written`);
    }
    assert.equal(await exists("/tmp/nanochat-pickle-pwned"), false, "nothing was executed");
    assert.deepEqual([...Deno.readDirSync(RUNS)].filter((e) => e.name.startsWith(".")).map((e) => e.name), [], "no staging directory left");
  },
});

Deno.test({
  ...opts,
  name: "import nanochat: a later nanochat's checkpoint (value embeddings, resid/x0 lambdas) is refused listing those parameters",
  fn: async () => {
    const { readTorchStateDict, torchStateDictChunks } = await import("../../src/formats/torch_save.ts");
    const { bytesSource, concatChunks } = await import("../../src/formats/zip.ts");
    const sd = await readTorchStateDict(bytesSource(await Deno.readFile(`${CKPT}/model_000010.pt`)), "m");
    sd.set("resid_lambdas", { dtype: "F32", shape: [2], data: new Float32Array(2) });
    sd.set("x0_lambdas", { dtype: "F32", shape: [2], data: new Float32Array(2) });
    sd.set("value_embeds.1.weight", { dtype: "BF16", shape: [296, 32], data: new Uint16Array(296 * 32) });
    const dir = await brokenDir("later", (d) => Deno.writeFile(`${d}/model_000010.pt`, concatChunks(torchStateDictChunks(sd, "model_000010"))));
    const r = await task("import", "nanochat", dir, "--run", "later", "--runs-dir", RUNS);
    assert.ok(!r.ok);
    assert.match(r.out, /parameters this lab's GPT does not have: resid_lambdas, x0_lambdas, value_embeds\.1\.weight/);
    assert.equal(await exists(`${RUNS}/later`), false);
  },
});
