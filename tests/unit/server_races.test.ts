// The lab server against a hostile filesystem and hostile requests: a real symlink swap (a
// second process flips a run's directories between real ones and links to a secret outside
// runs/) racing real requests for ten seconds leaks zero bytes, and racing directory
// listings (run checkpoints, a checkpoint's files) shows zero names; absolute-form targets and
// Host headers with userinfo are refused; a metrics stream reset reaches a client that
// resumes with an old Last-Event-ID.
import assert from "node:assert/strict";
import { startLabServer } from "../../src/server/server.ts";
import { writeRunInfo } from "../../src/train/deno_metrics.ts";
import { rawRequest } from "./server_fixture.ts";
import { listInside } from "../../src/server/paths.ts";
import { RunStream } from "../../web/src/run_stream.ts";

const SWAPPER = `
const sets = Deno.args.map((s) => s.split("|")); // each: "<live path>|<real dir>|<link>"
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

Deno.test({
  name: "lab server: a symlink swap racing directory listings for 10 s shows zero names from outside runs/",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "lab-list-race-" });
    const secret = `SECRET-${crypto.randomUUID()}`;
    const runs = `${root}/runs`, outside = `${root}/outside`;
    const checkpoint = async (dir: string, files: string[]) => {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(`${dir}/meta.json`, "{}");
      await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array(8));
      for (const f of files) await Deno.writeTextFile(`${dir}/${f}`, "x");
    };
    // Outside runs/: a checkpoints/ with a step of its own, and a step directory whose file
    // names are the secret. Only names could leak here: listings show names and sizes.
    await checkpoint(`${outside}/ckpts/step_987654`, [`${secret}.a`]);
    await checkpoint(`${outside}/stepdir`, [`${secret}.b`, `${secret}.c`]);
    await checkpoint(`${outside}/run/checkpoints/step_987655`, [`${secret}.d`]);
    await Deno.writeTextFile(`${outside}/run/run.json`, "{}");
    const info = { stage: "base", config: {}, adapter: "x", started_at: new Date().toISOString(), status: "finished" } as const;
    // Run c: its checkpoints/ flips to a link out. Run d: one step directory flips. Run e: the whole run flips.
    for (const r of ["c", "d", "e"]) {
      await writeRunInfo(`${runs}/${r}`, { name: r, ...info });
      await checkpoint(`${runs}/${r}/checkpoints/step_000100`, ["optim.safetensors"]);
    }
    await Deno.symlink(`${outside}/ckpts`, `${runs}/c/ck.link`);
    await Deno.symlink(`${outside}/stepdir`, `${runs}/d/checkpoints/st.link`);
    await Deno.symlink(`${outside}/run`, `${root}/e.link`);
    const server = await startLabServer({ runsDir: runs, port: 0 });
    const swapper = new Deno.Command(Deno.execPath(), {
      args: [
        "eval", SWAPPER,
        `${runs}/c/checkpoints|${runs}/c/ck.real|${runs}/c/ck.link`,
        `${runs}/d/checkpoints/step_000100|${runs}/d/checkpoints/st.real|${runs}/d/checkpoints/st.link`,
        `${runs}/e|${root}/e.real|${root}/e.link`,
      ],
      stdout: "null", stderr: "piped",
    }).spawn();
    let requests = 0, listed = 0, direct = 0;
    try {
      const paths = ["/api/runs", "/api/runs/c", "/api/runs/c/checkpoints", "/api/runs/d/checkpoints", "/api/runs/e", "/api/runs/e/checkpoints"];
      const end = Date.now() + 10_000;
      // Beside the requests, listInside itself as fast as it goes: a listing the swap wins
      // shows up within seconds here (checked by breaking the descriptor listing on purpose).
      const lister = (async () => {
        while (Date.now() < end) {
          for (const [dir, names] of [[`${runs}/d/checkpoints`, ["step_000100"]], [`${runs}/c`, ["checkpoints"]], [runs, ["e", "checkpoints"]]] as const) {
            const r = await listInside(dir, names);
            direct++;
            const shown = r.ok ? r.entries.map((e) => e.name).join(" ") : "";
            for (const leak of [secret, "987654", "987655"]) assert.ok(!shown.includes(leak), `listInside(${dir}, ${names}) showed ${leak}: ${shown}`);
          }
        }
      })();
      await Promise.all([lister, ...Array.from({ length: 4 }, async () => {
        while (Date.now() < end) {
          for (const p of paths) {
            const r = await fetch(`http://127.0.0.1:${server.port}${p}`);
            const body = await r.text();
            requests++;
            if (r.status === 200 && body.includes("optim.safetensors")) listed++;
            for (const leak of [secret, "987654", "987655"]) assert.ok(!body.includes(leak), `${p} (${r.status}) showed ${leak}: ${body.slice(0, 300)}`);
          }
        }
      })]);
    } finally {
      await swapper.status;
      await swapper.stderr.cancel();
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
    assert.ok(requests > 50 && listed > 5 && direct > 50, // floors that hold on a loaded 2-core machine
      `${requests} requests, ${listed} listed a real checkpoint's files, ${direct} direct listings: the race was real`);
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
      assert.match(first, /id: 4@[0-9a-z]+\n/);
      // The client holds id 4. Within a live stream, the file is replaced by a shorter one:
      const live = read("4", (t) => t.includes('"tag":"new"') && t.includes('"step":2'));
      await new Promise((r) => setTimeout(r, 200));
      await Deno.writeTextFile(`${dir}/metrics.tmp`, lines(3, "new"));
      await Deno.rename(`${dir}/metrics.tmp`, `${dir}/metrics.jsonl`);
      const text = await live;
      assert.match(text, /event: reset/);
      for (const s of [0, 1, 2]) assert.match(text, new RegExp(`id: ${s}@[0-9a-z]+\\nevent: metric\\ndata: \\{"type":"train","step":${s},"tag":"new"\\}`), `new line ${s} is not hidden by the old id`);
    } finally {
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "lab server: a client that reconnects after metrics.jsonl was replaced while it was away gets a reset and the new file from its first line",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "lab-away-" });
    const dir = `${root}/runs/m`;
    await writeRunInfo(dir, { name: "m", stage: "base", config: {}, adapter: "x", started_at: new Date().toISOString(), status: "finished" });
    const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ type: "train", step: i, tag }) + "\n").join("");
    const replace = async (text: string) => {
      await Deno.writeTextFile(`${dir}/metrics.tmp`, text);
      await Deno.rename(`${dir}/metrics.tmp`, `${dir}/metrics.jsonl`);
    };
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, lines(5, "old"));
    const server = await startLabServer({ runsDir: `${root}/runs`, port: 0, pollMs: 20 });
    const base = `http://127.0.0.1:${server.port}`;
    const until = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // The page's own client (web/src/run_stream.ts) over Deno's real EventSource.
    const stream = new RunStream("m", (url) => new EventSource(`${base}${url}`));
    try {
      stream.start();
      await until("the old file's five records", () => stream.records.length === 5);
      assert.equal(stream.lastId, 4);
      const oldTag = stream.lastTag;
      assert.match(oldTag ?? "", /^[0-9a-z]+$/, "ids carry the file's tag");
      stream.close(); // away (a closed tab, a catching-up stream between visits)

      // While it is away the run is resumed: metrics.jsonl rewritten, longer than before.
      await replace(lines(8, "new"));
      stream.start(); // comes back with ?after=4@<old tag>
      await until("the new file's eight records", () => stream.records.length === 8 && stream.records.every((r) => r.tag === "new"));
      assert.deepEqual(stream.records.map((r) => r.step), [0, 1, 2, 3, 4, 5, 6, 7], "the new file's first five lines are not hidden by the old id");
      assert.notEqual(stream.lastTag, oldTag);
      stream.close();

      // The browser's own reconnect sends the last id as Last-Event-ID: the same answer, read raw.
      const ctl = new AbortController();
      const res = await fetch(`${base}/api/runs/m/metrics/events`, { headers: { "last-event-id": `4@${oldTag}` }, signal: ctl.signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const deadline = Date.now() + 10_000;
      while (!text.includes('"step":7') && Date.now() < deadline) text += (await reader.read()).value ?? "";
      ctl.abort();
      await reader.cancel().catch(() => {});
      assert.match(text, /event: reset\ndata: \{"reason":"metrics\.jsonl is another file than the one your last id counts in/);
      assert.ok(text.indexOf("event: reset") < text.indexOf("event: metric"), "reset comes before the records");
      assert.match(text, /id: 0@[0-9a-z]+\nevent: metric\ndata: \{"type":"train","step":0,"tag":"new"\}/);

      // Ids of the current file still resume exactly; a bare number (older clients) is taken as it is.
      const ids = async (q: string) => {
        const c = new AbortController();
        const r = await fetch(`${base}/api/runs/m/metrics/events${q}`, { signal: c.signal });
        const rd = r.body!.pipeThrough(new TextDecoderStream()).getReader();
        let t = "";
        const end = Date.now() + 10_000;
        while (!t.includes('"step":7') && Date.now() < end) t += (await rd.read()).value ?? "";
        c.abort();
        await rd.cancel().catch(() => {});
        return { reset: t.includes("event: reset"), ids: [...t.matchAll(/id: (\d+)@/g)].map((m) => Number(m[1])) };
      };
      const newTag = stream.lastTag!;
      assert.deepEqual(await ids(`?after=5@${newTag}`), { reset: false, ids: [6, 7] });
      assert.deepEqual(await ids(`?after=5`), { reset: false, ids: [6, 7] });
      const bad = await fetch(`${base}/api/runs/m/metrics/events?after=5@NOT-A-TAG`);
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /optionally with the file tag the stream sent \(N@tag\)/);
    } finally {
      stream.close();
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});
