// What the lab serves for training in the tab (/api/data…): the data directory's shards with
// the SHA-256 their manifest records, byte ranges of a shard, the tokenizer's files — and
// nothing else: no other file of the directories, no link out of them, no malformed name.
import assert from "node:assert/strict";
import { startLabServer } from "../../src/server/server.ts";
import { sha256Hex } from "../../src/data/prepare.ts";
import { shardOpener } from "../../web/src/train_data.ts";

async function withData(fn: (url: string, dirs: { data: string; tok: string; outside: string }) => Promise<void>, opts: { manifest?: unknown } = {}): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "nanochat-server-data-" });
  const data = `${tmp}/data`, tok = `${tmp}/tok`, outside = `${tmp}/outside`;
  for (const d of [data, tok, outside, `${tmp}/runs`]) await Deno.mkdir(d);
  await Deno.writeFile(`${data}/shard_00000.parquet`, new Uint8Array(100).map((_, i) => i));
  await Deno.writeFile(`${data}/shard_00001.parquet`, new Uint8Array(7));
  await Deno.writeTextFile(`${data}/notes.txt`, "not a shard");
  if (opts.manifest !== undefined) await Deno.writeTextFile(`${data}/manifest.json`, JSON.stringify(opts.manifest));
  await Deno.writeTextFile(`${outside}/secret.parquet`, "secret");
  await Deno.symlink(`${outside}/secret.parquet`, `${data}/shard_00002.parquet`);
  await Deno.writeTextFile(`${tok}/tokenizer.json`, "{}");
  await Deno.writeTextFile(`${tok}/other.txt`, "no");
  const server = await startLabServer({ runsDir: `${tmp}/runs`, dataDir: data, tokenizerDir: tok, port: 0 });
  try {
    await fn(server.url.replace(/\/$/, ""), { data, tok, outside });
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("lab server: /api/data lists the shards (sorted, with their manifest SHA-256) and the tokenizer's files", () =>
  withData(async (url) => {
    const res = await fetch(`${url}/api/data`);
    assert.equal(res.status, 200);
    const body = await res.json();
    // The link out of the data directory is listed by the directory but cannot be served (below); it is not a file here.
    assert.deepEqual(body.shards, [
      { name: "shard_00000.parquet", bytes: 100, sha256: "ab".repeat(32) },
      { name: "shard_00001.parquet", bytes: 7, sha256: null },
    ]);
    assert.deepEqual(body.tokenizer, ["tokenizer.json"]);
    assert.equal(body.missing, null);
  }, { manifest: { format: "webgpu-nanochat/shards@1", shards: [{ name: "shard_00000.parquet", sha256: "ab".repeat(32) }] } }));

Deno.test("lab server: a shard is served whole and by byte ranges; only .parquet files of the data directory, never through a link out", () =>
  withData(async (url) => {
    const whole = await fetch(`${url}/api/data/shards/shard_00000.parquet`);
    assert.equal(whole.status, 200);
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), new Uint8Array(100).map((_, i) => i));
    const part = await fetch(`${url}/api/data/shards/shard_00000.parquet`, { headers: { range: "bytes=90-" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 90-99/100");
    assert.deepEqual([...new Uint8Array(await part.arrayBuffer())], [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    for (const [path, status, msg] of [
      ["/api/data/shards/notes.txt", 404, /only the \.parquet files/],
      ["/api/data/shards/manifest.json", 404, /only the \.parquet files/],
      ["/api/data/shards/shard_00002.parquet", 404, /link that leads outside/],
      ["/api/data/shards/.hidden.parquet", 400, /not allowed/],
      ["/api/data/shards/nope.parquet", 404, /not found/],
      ["/api/data/tokenizer/other.txt", 404, /tokenizer's files are tokenizer\.json/],
      ["/api/data/tokenizer/tokenizer.tiktoken", 404, /not found; run 'deno task tok train/],
      ["/api/data/elsewhere/x", 404, /no API endpoint/],
    ] as const) {
      const r = await fetch(url + path);
      assert.equal(r.status, status, path);
      assert.match((await r.json()).error, msg, path);
    }
    const tok = await fetch(`${url}/api/data/tokenizer/tokenizer.json`);
    assert.equal(tok.status, 200);
    assert.equal(await tok.text(), "{}");
  }));

Deno.test("lab server: /api/data says what to run when the shards or the tokenizer are missing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "nanochat-server-data-" });
  const server = await startLabServer({ runsDir: `${tmp}/runs`, dataDir: `${tmp}/data`, tokenizerDir: `${tmp}/tok`, port: 0 });
  try {
    const none = await (await fetch(`${server.url}api/data`)).json();
    assert.deepEqual(none.shards, []);
    assert.match(none.missing, /no parquet shards in .*data.*deno task data prepare/);
    await Deno.mkdir(`${tmp}/data`);
    await Deno.writeFile(`${tmp}/data/a.parquet`, new Uint8Array(1));
    assert.match((await (await fetch(`${server.url}api/data`)).json()).missing, /only one shard in .*the last one is validation/);
    await Deno.writeFile(`${tmp}/data/b.parquet`, new Uint8Array(1));
    assert.match((await (await fetch(`${server.url}api/data`)).json()).missing, /no tokenizer in .*tok.*deno task tok train --vocab 4096/);
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("train tab: the worker's shard opener checks a shard against its manifest SHA-256 before the loader reads it", async () => {
  const good = new Uint8Array(100).map((_, i) => i);
  const manifest = { shards: [{ name: "shard_00000.parquet", sha256: await sha256Hex(good) }, { name: "shard_00001.parquet", sha256: "00".repeat(32) }] };
  await withData(async (url) => {
    const info = await (await fetch(`${url}/api/data`)).json();
    const open = shardOpener(info, url + "/");
    const ok = await open("shard_00000.parquet");
    assert.equal(ok.byteLength, 100);
    assert.deepEqual(new Uint8Array(await ok.slice(95, 100)), new Uint8Array([95, 96, 97, 98, 99]));
    await assert.rejects(open("shard_00001.parquet"), /shard_00001\.parquet: its contents do not match the SHA-256 its manifest records .*deno task data prepare/);
    // Nothing vouches for a shard the manifest does not list: read by ranges, as it is.
    const unlisted = shardOpener({ ...info, shards: info.shards.map((s: { name: string }) => ({ ...s, sha256: null })) }, url + "/");
    assert.equal((await unlisted("shard_00001.parquet")).byteLength, 7);
  }, { manifest });
});
