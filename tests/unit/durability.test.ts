// Durability steps no functional test can see: every file is fsynced before the rename
// that makes it visible, a checkpoint directory is synced before it is renamed into
// place, and its parent after (so the rename itself survives a power loss). The test
// records the file-system calls in order by wrapping Deno.open, FsFile.sync and Deno.rename.
import assert from "node:assert/strict";
import { writeFileAtomic } from "../../src/io/deno_files.ts";
import { paramShapes } from "../../src/model/config.ts";
import { saveCheckpoint } from "../../src/train/deno_checkpoint.ts";

type Event = { op: "sync" | "rename"; path: string; to?: string };

async function recording(fn: () => Promise<void>): Promise<Event[]> {
  const events: Event[] = [];
  const paths = new WeakMap<Deno.FsFile, string>();
  const d = Deno as unknown as Record<string, unknown>;
  const open = Deno.open, rename = Deno.rename, sync = Deno.FsFile.prototype.sync;
  d.open = async (path: string | URL, o?: Deno.OpenOptions) => {
    const f = await open(path, o);
    paths.set(f, String(path));
    return f;
  };
  d.rename = async (from: string | URL, to: string | URL) => {
    events.push({ op: "rename", path: String(from), to: String(to) });
    return await rename(from, to);
  };
  Deno.FsFile.prototype.sync = async function (this: Deno.FsFile) {
    events.push({ op: "sync", path: paths.get(this) ?? "?" });
    return await sync.call(this);
  };
  try {
    await fn();
  } finally {
    d.open = open;
    d.rename = rename;
    Deno.FsFile.prototype.sync = sync;
  }
  return events;
}

const at = (events: Event[], pred: (e: Event) => boolean, what: string) => {
  const i = events.findIndex(pred);
  assert.ok(i >= 0, `${what} never happened: ${JSON.stringify(events)}`);
  return i;
};

Deno.test("durability: writeFileAtomic fsyncs the temp file before renaming it over the target", async () => {
  const dir = await Deno.makeTempDir({ prefix: "durable_" });
  try {
    const events = await recording(() => writeFileAtomic(`${dir}/run.json`, "{}\n"));
    const rename = at(events, (e) => e.op === "rename" && e.to === `${dir}/run.json`, "the rename onto run.json");
    at(events.slice(0, rename), (e) => e.op === "sync" && e.path === events[rename].path, "an fsync of the temp file before the rename");
    assert.equal(await Deno.readTextFile(`${dir}/run.json`), "{}\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("durability: a checkpoint's files and directory are fsynced before it is renamed into place, its parent after", async () => {
  const dir = await Deno.makeTempDir({ prefix: "durable_" });
  const cfg = { sequence_len: 4, vocab_size: 8, n_layer: 1, n_head: 1, n_kv_head: 1, n_embd: 4 };
  const params = new Map(paramShapes(cfg).map(({ name, shape }) => [name, new Float32Array(shape[0] * shape[1]).fill(0.5)]));
  const meta = { user_config: {}, val_bpb: null, loader_state: null, rng_state: null, metrics: {}, tokenizer: null };
  const opt = { tensors: new Map([["adamw.m.lm_head.weight", params.get("lm_head.weight")!]]), meta: {} };
  try {
    for (const step of [3, 3]) { // the second save replaces the first: the old one is moved aside, never half-visible
      const events = await recording(async () => void await saveCheckpoint(dir, step, { params, cfg, meta, optimizer: opt }));
      const final = `${dir}/checkpoints/step_00000${step}`;
      const rename = at(events, (e) => e.op === "rename" && e.to === final, `the rename onto ${final}`);
      const tmp = events[rename].path;
      for (const f of ["model.safetensors", "optim.safetensors", "meta.json"]) {
        at(events.slice(0, rename), (e) => e.op === "sync" && e.path === `${tmp}/${f}`, `an fsync of ${f} before the rename`);
      }
      at(events.slice(0, rename), (e) => e.op === "sync" && e.path === tmp, "an fsync of the temp directory before the rename");
      at(events.slice(rename), (e) => e.op === "sync" && e.path === `${dir}/checkpoints`, "an fsync of checkpoints/ after the rename");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
