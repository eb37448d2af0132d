// The lab server against a hostile filesystem and hostile requests: a real symlink swap (a
// second process flips a run's directories between real ones and links to a secret outside
// runs/) racing real requests for ten seconds leaks zero bytes; absolute-form targets and
// Host headers with userinfo are refused; a metrics stream reset reaches a client that
// resumes with an old Last-Event-ID.
import assert from "node:assert/strict";
import { startLabServer } from "../../src/server/server.ts";
import { writeRunInfo } from "../../src/train/deno_metrics.ts";
import { rawRequest } from "./server_fixture.ts";

const SWAPPER = `
const [a, b] = Deno.args; // each: "<live path>|<real dir>|<link>"
const sets = [a, b].map((s) => s.split("|"));
const end = Date.now() + 11_000;
while (Date.now() < end) {
  for (const [live, real, link] of sets) {
    Deno.renameSync(live, real); Deno.renameSync(link, live);   // live is now a link out
    Deno.renameSync(live, link); Deno.renameSync(real, live);   // live is the real dir again
  }
}`;

Deno.test({
  name: "lab server: a symlink swap racing requests for 10 s serves zero bytes of a secret outside runs/",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "lab-race-" });
    const secret = `SECRET-${crypto.randomUUID()}`;
    const runs = `${root}/runs`, outside = `${root}/outside`;
    await Deno.mkdir(`${outside}/tokenizer`, { recursive: true });
    for (const f of ["tokenizer.json", "metrics.jsonl", "run.json"]) await Deno.writeTextFile(`${outside}/${f}`, `{"type":"train","step":1,"x":"${secret}"}\n`);
    await Deno.writeTextFile(`${outside}/tokenizer/tokenizer.json`, secret);
    // Run r: its tokenizer/ flips to a link to outside/tokenizer. Run s: the whole run flips to a link to outside/.
    await writeRunInfo(`${runs}/r`, { name: "r", stage: "base", config: {}, adapter: "x", started_at: new Date().toISOString(), status: "finished" });
    await Deno.mkdir(`${runs}/r/tokenizer`);
    await Deno.writeTextFile(`${runs}/r/tokenizer/tokenizer.json`, "{}");
    await Deno.symlink(`${outside}/tokenizer`, `${runs}/r/tok.link`);
    await writeRunInfo(`${runs}/s`, { name: "s", stage: "base", config: {}, adapter: "x", started_at: new Date().toISOString(), status: "finished" });
    await Deno.writeTextFile(`${runs}/s/metrics.jsonl`, `{"type":"train","step":0,"loss":1}\n`);
    await Deno.symlink(outside, `${root}/s.link`);
    const server = await startLabServer({ runsDir: runs, port: 0 });
    const swapper = new Deno.Command(Deno.execPath(), {
      args: ["eval", SWAPPER, `${runs}/r/tokenizer|${runs}/r/tok.real|${runs}/r/tok.link`, `${runs}/s|${root}/s.real|${root}/s.link`],
      stdout: "null", stderr: "piped",
    }).spawn();
    let requests = 0, ok = 0;
    try {
      const paths = ["/api/runs/r/tokenizer/tokenizer.json", "/api/runs/s/metrics", "/api/runs/s", "/api/runs", "/api/runs/s/samples"];
      const end = Date.now() + 10_000;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (Date.now() < end) {
          for (const p of paths) {
            const r = await fetch(`http://127.0.0.1:${server.port}${p}`);
            const body = await r.text();
            requests++;
            if (r.status === 200) ok++;
            assert.ok(!body.includes(secret), `${p} (${r.status}) leaked the secret: ${body.slice(0, 200)}`);
          }
        }
      }));
    } finally {
      await swapper.status;
      await swapper.stderr.cancel();
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
    assert.ok(requests > 100 && ok > 10, `${requests} requests, ${ok} answered 200: the race was real`);
  },
});

Deno.test("lab server: absolute-form request targets and Host headers with userinfo are refused", async () => {
  const root = await Deno.makeTempDir({ prefix: "lab-host-" });
  const server = await startLabServer({ runsDir: `${root}/runs`, port: 0 });
  try {
    const abs = await rawRequest(server.port, "http://other.example/api/health");
    assert.equal(abs.status, 400);
    assert.match(abs.body, /absolute form for another host/);
    const user = await rawRequest(server.port, "/api/health", { headers: { Host: `evil@127.0.0.1:${server.port}` } });
    assert.equal(user.status, 400);
    assert.match(user.body, /carries userinfo/);
    const same = await rawRequest(server.port, `http://127.0.0.1:${server.port}/api/health`);
    assert.equal(same.status, 200, "absolute form naming this server itself is fine");
    assert.equal((await rawRequest(server.port, "/api/health")).status, 200);
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "lab server: after metrics.jsonl is replaced, a client resuming with an old Last-Event-ID gets a reset and the new file's first lines",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "lab-reset-" });
    const dir = `${root}/runs/m`;
    await writeRunInfo(dir, { name: "m", stage: "base", config: {}, adapter: "x", started_at: new Date().toISOString(), status: "finished" });
    const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ type: "train", step: i, tag }) + "\n").join("");
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, lines(5, "old"));
    const server = await startLabServer({ runsDir: `${root}/runs`, port: 0, pollMs: 20 });
    const read = async (lastId: string, until: (text: string) => boolean) => {
      const ctl = new AbortController();
      const r = await fetch(`http://127.0.0.1:${server.port}/api/runs/m/metrics/events`, { headers: { "last-event-id": lastId }, signal: ctl.signal });
      const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const deadline = Date.now() + 10_000;
      while (!until(text) && Date.now() < deadline) text += (await reader.read()).value ?? "";
      ctl.abort();
      await reader.cancel().catch(() => {});
      return text;
    };
    try {
      const first = await read("-1", (t) => t.includes('"step":4'));
      assert.match(first, /id: 4\n/);
      // The client holds id 4. Within a live stream, the file is replaced by a shorter one:
      const live = read("4", (t) => t.includes('"tag":"new"') && t.includes('"step":2'));
      await new Promise((r) => setTimeout(r, 200));
      await Deno.writeTextFile(`${dir}/metrics.tmp`, lines(3, "new"));
      await Deno.rename(`${dir}/metrics.tmp`, `${dir}/metrics.jsonl`);
      const text = await live;
      assert.match(text, /event: reset/);
      for (const s of [0, 1, 2]) assert.match(text, new RegExp(`id: ${s}\\nevent: metric\\ndata: \\{"type":"train","step":${s},"tag":"new"\\}`), `new line ${s} is not hidden by the old id`);
    } finally {
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});
