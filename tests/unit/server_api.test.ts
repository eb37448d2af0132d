// The lab server's JSON API and file responses over a runs directory in the real formats
// (run.json, metrics.jsonl, checkpoints, tokenizer), and the static web build.
import assert from "node:assert/strict";
import { startLabServer } from "../../src/server/server.ts";
import { buildWeb } from "../../src/server/static.ts";
import { getJson, withServer } from "./server_fixture.ts";

type Summary = Record<string, unknown>;

Deno.test("lab server: /api/health and /api/runs list every run, newest first; broken runs carry an error", () =>
  withServer(async ({ url, fx }) => {
    const health = await getJson(`${url}/api/health`);
    assert.equal(health.status, 200);
    assert.equal(health.type, "application/json");
    for (const path of ["/api/health", "/api/runs/nope", "/"]) {
      const r = await fetch(url + path);
      await r.body?.cancel();
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", `${path}: browsers must not sniff a JSON error or a file into HTML`);
    }
    assert.deepEqual(health.body, { ok: true, runs_dir: fx.runsDir });

    const res = await getJson(`${url}/api/runs`);
    assert.equal(res.status, 200);
    const runs = res.body.runs as Summary[];
    const byName = new Map(runs.map((r) => [r.name as string, r]));
    assert.deepEqual([...byName.keys()].sort(), ["alpha", "beta", "delta", "eps", "gamma"], "links out of runs/ and directories without run files are not runs");
    const times = runs.map((r) => (r.updated_at as string | null) ?? "");
    assert.deepEqual(times, [...times].sort().reverse(), "newest first");
    assert.ok(runs.indexOf(byName.get("alpha")!) < runs.indexOf(byName.get("gamma")!));

    const alpha = byName.get("alpha")!;
    assert.equal(alpha.status, "running");
    assert.equal(alpha.stage, "base");
    assert.equal(alpha.adapter, "test adapter");
    assert.equal(alpha.step, 4, "the last step in metrics.jsonl, ahead of run.json's");
    assert.equal(alpha.last_loss, 5 - 4 / 10);
    assert.equal(alpha.tok_per_sec, 1004);
    assert.equal(alpha.last_val_bpb, 2.25);
    assert.deepEqual(alpha.checkpoints, [2, 4, 6], "the linked step_000009 is not a checkpoint");
    assert.deepEqual(alpha.config, { depth: 1, run: "alpha" });
    assert.equal(typeof alpha.started_at, "string");
    assert.equal(alpha.error, undefined);

    const beta = byName.get("beta")!;
    assert.equal(beta.status, "unknown");
    assert.match(beta.error as string, /run\.json is not valid JSON/);
    assert.equal(beta.last_loss, 5, "metrics still read");

    const gamma = byName.get("gamma")!;
    assert.equal(gamma.status, "unknown", "no run.json");
    assert.equal(gamma.step, 1, "the torn last line is not counted");
    assert.equal(gamma.updated_at, "2020-01-01T00:00:00.000Z");
    assert.match(gamma.error as string, /metrics\.jsonl: line 2 is not a JSON object and was skipped/);

    const delta = byName.get("delta")!;
    assert.equal(delta.status, "unknown");
    assert.match(delta.error as string, /run\.json is a link that leads outside/);
    assert.match(delta.error as string, /metrics\.jsonl is a link that leads outside/);

    const eps = byName.get("eps")!;
    assert.equal(eps.status, "unknown");
    assert.match(eps.error as string, /metrics\.jsonl .*is not a regular file/);
    assert.ok(!JSON.stringify(res.body).includes(fx.secret));
  }));

Deno.test("lab server: the listing follows appends (cached figures are refreshed) and an empty or missing runs dir", async () => {
  await withServer(async ({ url, fx }) => {
    await getJson(`${url}/api/runs`);
    await Deno.writeTextFile(`${fx.runsDir}/alpha/metrics.jsonl`, JSON.stringify({ type: "eval", step: 7, val_bpb: 1.5 }) + "\n", { append: true });
    const alpha = (await getJson(`${url}/api/runs/alpha`)).body;
    assert.equal(alpha.step, 7);
    assert.equal(alpha.last_val_bpb, 1.5);
    // run.json's error is the run's error once it failed; a stale one on a resumed run is not.
    const info = JSON.parse(await Deno.readTextFile(`${fx.runsDir}/alpha/run.json`));
    await Deno.writeTextFile(`${fx.runsDir}/alpha/run.json`, JSON.stringify({ ...info, status: "failed", error: "GPU device lost at step 7" }));
    assert.equal((await getJson(`${url}/api/runs/alpha`)).body.error, "GPU device lost at step 7");
    await Deno.writeTextFile(`${fx.runsDir}/alpha/run.json`, JSON.stringify({ ...info, status: "running", error: "GPU device lost at step 7" }));
    assert.equal((await getJson(`${url}/api/runs/alpha`)).body.error, undefined);
  });
  const dir = await Deno.makeTempDir({ prefix: "lab_server_empty_" });
  const server = await startLabServer({ runsDir: `${dir}/runs`, webDir: null, port: 0 });
  try {
    assert.deepEqual((await getJson(`${server.url}api/runs`)).body, { runs: [] });
    const r = await getJson(`${server.url}api/runs/x`);
    assert.equal(r.status, 404);
    assert.match(r.body.error as string, /does not exist yet/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lab server: one run (summary + info), metrics, samples, checkpoints", () =>
  withServer(async ({ url, fx }) => {
    const run = await getJson(`${url}/api/runs/alpha`);
    assert.equal(run.status, 200);
    assert.equal(run.body.name, "alpha");
    const info = run.body.info as Record<string, unknown>;
    assert.deepEqual(info, JSON.parse(await Deno.readTextFile(`${fx.runsDir}/alpha/run.json`)), "run.json as is");

    const beta = await getJson(`${url}/api/runs/beta`);
    assert.equal(beta.status, 200);
    assert.equal(beta.body.info, null);
    assert.equal(beta.body.status, "unknown");

    const m = await getJson(`${url}/api/runs/alpha/metrics`);
    const records = m.body.records as Record<string, unknown>[];
    assert.deepEqual(records.map((r) => r.type), ["train", "train", "train", "train", "train", "eval", "sample"]);
    assert.deepEqual((await getJson(`${url}/api/runs/gamma/metrics`)).body.records, [
      { type: "train", step: 0, loss: 5, tok_per_sec: 1000, time: 1e9 },
      { type: "train", step: 1, loss: 4.9, tok_per_sec: 1001, time: 1e9 + 1 },
    ], "bad and torn lines are skipped, not errors");

    assert.deepEqual((await getJson(`${url}/api/runs/alpha/samples`)).body, { samples: [{ step: 4, samples: ["The capital of France is", "hello"] }] });

    const ck = (await getJson(`${url}/api/runs/alpha/checkpoints`)).body.checkpoints as Record<string, unknown>[];
    assert.deepEqual(ck.map((c) => c.step), [2, 4, 6]);
    const c4 = ck[1];
    const dir4 = `${fx.runsDir}/alpha/checkpoints/step_000004`;
    assert.deepEqual(c4.files, await Promise.all(["meta.json", "model.safetensors", "optim.safetensors"].map(async (name) => ({ name, size: (await Deno.stat(`${dir4}/${name}`)).size }))));
    assert.equal((c4.meta as Record<string, unknown>).step, 4);
    assert.equal(c4.error, undefined);
    assert.equal(ck[2].meta, null);
    assert.match(ck[2].error as string, /checkpoint 6: meta\.json is not valid JSON/);
  }));

Deno.test("lab server: checkpoint and tokenizer files stream with ranges, HEAD, ETag", () =>
  withServer(async ({ url, fx }) => {
    const path = `${fx.runsDir}/alpha/checkpoints/step_000004/model.safetensors`;
    const bytes = await Deno.readFile(path);
    const size = bytes.length;
    const base = `${url}/api/runs/alpha/checkpoints/4/model.safetensors`;

    let r = await fetch(base);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/octet-stream");
    assert.equal(r.headers.get("content-length"), String(size));
    assert.equal(r.headers.get("accept-ranges"), "bytes");
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bytes);
    const etag = r.headers.get("etag")!;
    assert.ok(etag);

    const ranges: [string, number, number][] = [["bytes=0-9", 0, 9], [`bytes=100-`, 100, size - 1], ["bytes=-16", size - 16, size - 1], [`bytes=${size - 3}-${size + 100}`, size - 3, size - 1], [`bytes=-${size + 5}`, 0, size - 1]];
    for (const [header, a, b] of ranges) {
      r = await fetch(base, { headers: { range: header } });
      assert.equal(r.status, 206, header);
      assert.equal(r.headers.get("content-range"), `bytes ${a}-${b}/${size}`, header);
      assert.equal(r.headers.get("content-length"), String(b - a + 1), header);
      assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bytes.subarray(a, b + 1), header);
    }
    r = await fetch(base, { headers: { range: "bytes=0-1,4-5" } });
    assert.equal(r.status, 200, "several ranges: the whole file");
    assert.equal((await r.arrayBuffer()).byteLength, size);
    for (const header of [`bytes=${size}-`, "bytes=5-2", "bytes=abc", "items=0-1", "bytes=-0", "bytes=-", "bytes=0-1,x"]) {
      r = await fetch(base, { headers: { range: header } });
      assert.equal(r.status, 416, header);
      assert.equal(r.headers.get("content-range"), `bytes */${size}`, header);
      assert.match((await r.json()).error, /Range/, header);
    }

    r = await fetch(base, { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-length"), String(size));
    assert.equal((await r.arrayBuffer()).byteLength, 0);
    r = await fetch(base, { method: "HEAD", headers: { range: "bytes=8-15" } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get("content-range"), `bytes 8-15/${size}`);
    await r.body?.cancel();
    r = await fetch(base, { headers: { "if-none-match": etag } });
    assert.equal(r.status, 304);
    await r.body?.cancel();

    r = await fetch(`${url}/api/runs/alpha/checkpoints/4/meta.json`);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal((await r.json()).step, 4);
    r = await fetch(`${url}/api/runs/alpha/checkpoints/04/optim.safetensors`, { method: "HEAD" });
    assert.equal(r.status, 200, "a step is a number: 04 is 4");
    await r.body?.cancel();

    r = await fetch(`${url}/api/runs/alpha/tokenizer/tokenizer.json`);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.deepEqual(await r.json(), { format: "test", merges: [] });
    r = await fetch(`${url}/api/runs/alpha/tokenizer/tokenizer.tiktoken`);
    assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await r.text(), "IQ== 0\nIg== 1\n");
    const missing = await getJson(`${url}/api/runs/beta/tokenizer/tokenizer.json`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.error as string, /tokenizer\/ of run 'beta' not found/);
  }));

Deno.test("lab server: unknown runs, steps, files and endpoints are JSON 404s; bad steps 400", () =>
  withServer(async ({ url }) => {
    const cases: [string, number, RegExp][] = [
      ["/api/runs/nope", 404, /run 'nope' not found/],
      ["/api/runs/notarun/metrics", 200, /records/],
      ["/api/runs/alpha/checkpoints/3/meta.json", 404, /no complete checkpoint at step 3; its checkpoints: 2, 4, 6/],
      ["/api/runs/alpha/checkpoints/9/meta.json", 404, /no complete checkpoint at step 9/],
      ["/api/runs/alpha/checkpoints/two/meta.json", 400, /not a non-negative integer/],
      ["/api/runs/alpha/checkpoints/-1/meta.json", 400, /not a non-negative integer/],
      ["/api/runs/alpha/checkpoints/1e3/meta.json", 400, /not a non-negative integer/],
      ["/api/runs/alpha/checkpoints/4/nothing.bin", 404, /file nothing\.bin of checkpoint 4 of run 'alpha' not found/],
      ["/api/runs/alpha/tokenizer/nothing.json", 404, /not found/],
      ["/api/runs/alpha/frobnicate", 404, /no API endpoint/],
      ["/api/nothing", 404, /no API endpoint .* \/api\/runs/],
      ["/api", 404, /no API endpoint/],
      ["/api/runs/eps/metrics", 500, /not a regular file/],
    ];
    for (const [path, status, message] of cases) {
      const r = await getJson(url + path);
      assert.equal(r.status, status, path);
      assert.equal(r.type, "application/json", path);
      assert.match(JSON.stringify(r.body), message, path);
    }
  }));

Deno.test("lab server: the web build is served with an SPA fallback; without one '/' says how to build it", async () => {
  await withServer(async ({ url }) => {
    for (const path of ["/", "/runs/alpha", "/runs/alpha/checkpoints/4"]) {
      const r = await fetch(url + path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8", path);
      assert.match(await r.text(), /<title>lab app<\/title>/, path);
    }
    let r = await fetch(`${url}/assets/app-abcdef12.js`);
    assert.equal(r.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(r.headers.get("cache-control")!, /immutable/);
    assert.equal(await r.text(), "console.log('lab');");
    r = await fetch(`${url}/assets/_helpers-abcdef12.js`);
    assert.equal(await r.text(), "export const h = 1;", "Rollup names some chunks with a leading _");
    for (const path of ["/missing.js", "/assets/missing-12345678.css"]) {
      const j = await getJson(url + path);
      assert.equal(j.status, 404, path);
      assert.match(j.body.error as string, /not found/);
    }
    r = await fetch(`${url}/etc/passwd`);
    assert.match(await r.text(), /lab app/, "an extension-less path is an app route, never a file outside the build");
  });
  await withServer(async ({ url }) => {
    const r = await fetch(`${url}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await r.text();
    assert.match(html, /not built/);
    assert.match(html, /deno task lab/);
    const j = await getJson(`${url}/assets/x-12345678.js`);
    assert.equal(j.status, 404);
    assert.match(j.body.error as string, /the web app is not built/);
  }, { web: false });
  // A build folder without index.html is not a build either.
  await withServer(async ({ url }) => {
    const r = await fetch(`${url}/`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /not built/);
  }, { web: "no-index" });
});

Deno.test("lab server: buildWeb builds a page with Vite, and says clearly when there is no index.html", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lab_web_build_" });
  try {
    await Deno.mkdir(`${dir}/src`);
    await assert.rejects(buildWeb(`${dir}/out`, `${dir}/src`), /index\.html does not exist.*deno task lab --no-build/);
    await Deno.writeTextFile(`${dir}/src/index.html`, '<!doctype html><title>t</title><script type="module" src="./main.ts"></script>');
    await Deno.writeTextFile(`${dir}/src/main.ts`, "const n: number = 6 * 7;\ndocument.title = String(n);\n");
    const out = await buildWeb(`${dir}/out`, `${dir}/src`);
    assert.equal(out, `${dir}/out`);
    assert.match(await Deno.readTextFile(`${out}/index.html`), /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
    const assets = (await Array.fromAsync(Deno.readDir(`${out}/assets`))).map((e) => e.name);
    assert.equal(assets.filter((n) => n.endsWith(".js")).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lab server: a run whose run.json says running but whose owner lock is gone or held by a dead pid is shown interrupted", () =>
  withServer(async ({ url, fx }) => {
    const alphaStatus = async () => ((await getJson(`${url}/api/runs/alpha`)).body as Summary);
    assert.equal((await alphaStatus()).status, "running", "held by a live process");
    // The lock of a process that was killed with SIGKILL: its pid no longer runs.
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    const lock = `${fx.runsDir}/alpha/owner.lock`;
    await Deno.writeTextFile(lock, JSON.stringify({ pid: dead.pid, hostname: Deno.hostname(), started_at: new Date().toISOString(), command: "deno task train base" }));
    const s = await alphaStatus();
    assert.equal(s.status, "interrupted");
    assert.match(s.error as string, /run\.json says running, but no process holds the run .*deno task train base --run alpha --resume/);
    await Deno.remove(lock);
    assert.equal((await alphaStatus()).status, "interrupted", "no lock at all: nobody is writing it");
  }));
