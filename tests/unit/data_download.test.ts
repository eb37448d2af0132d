// The shard downloader against a local server (127.0.0.1) that speaks HTTP Range and
// can cut a connection midway: resume from .partial, verification, atomic rename,
// retries, and failing fast (naming `deno task data prepare`) when offline.
import assert from "node:assert/strict";
import { downloadFile, downloadShards, DOWNLOADS, type DownloadsFile, OfflineError, shardUrl } from "../../src/data/deno_download.ts";
import { verifyShard } from "../../src/data/deno_shards.ts";
import { sha256Hex } from "../../src/data/prepare.ts";
import { DataError } from "../../src/data/errors.ts";
import { Progress } from "../../src/data/deno_progress.ts";
import { dataCli, makeDocs, shardBytes, withTempDir } from "../fixtures/data/helpers.ts";

const FILES = [0, 1, 2].map((i) => shardBytes(makeDocs(400 + 50 * i, `s${i}`), 128));

interface ServerOptions {
  /** Shard names whose first GET is cut after half the bytes. */
  cut?: Set<string>;
  /** Serve these bytes instead of the real shard. */
  replace?: Map<string, Uint8Array>;
  /** Ignore Range headers (answer 200 with the whole file). */
  noRanges?: boolean;
  /** Answer a Range request with a Content-Range that starts at 0, and a slow body. */
  wrongStart?: boolean;
  /** Called when the client cancels a slow body. */
  onCancel?: () => void;
  /**
   * As Hugging Face does: /shard_N answers 302 to /cdn/shard_N and names the true file's
   * SHA-256 in X-Linked-Etag (what /cdn/ then serves may be `replace`d, i.e. damaged).
   */
  redirectWithSha?: Map<string, string>;
}

function serve(opts: ServerOptions = {}) {
  const log: { name: string; range: string | null; status: number }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    const sha = opts.redirectWithSha?.get(path.slice(1));
    if (sha) return new Response(null, { status: 302, headers: { location: `/cdn${path}`, "x-linked-etag": `"${sha}"` } });
    const name = path.replace(/^\/cdn\//, "/").slice(1);
    const i = Number(name.match(/^shard_(\d{5})\.parquet$/)?.[1] ?? NaN);
    const body = opts.replace?.get(name) ?? FILES[i];
    const range = req.headers.get("range");
    const entry = { name, range, status: 200 };
    log.push(entry);
    if (!body) return (entry.status = 404, new Response("not found", { status: 404 }));
    const m = opts.noRanges ? null : range?.match(/^bytes=(\d+)-$/);
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length && m) {
      return (entry.status = 416, new Response(null, { status: 416, headers: { "content-range": `bytes */${body.length}` } }));
    }
    const part = body.slice(start);
    const headers: Record<string, string> = { "content-length": String(part.length) };
    if (m) headers["content-range"] = `bytes ${opts.wrongStart ? 0 : start}-${body.length - 1}/${body.length}`;
    entry.status = m ? 206 : 200;
    if (opts.wrongStart) {
      // A slow body: it ends only when the client cancels it (or after 2 s).
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull: (c) => new Promise((r) => setTimeout(r, 20)).then(() => (++sent > 100 ? c.close() : c.enqueue(part.slice(0, 16)))),
        cancel: () => void (opts.onCancel?.()),
      });
      return new Response(stream, { status: entry.status, headers });
    }
    if (opts.cut?.delete(name)) {
      // Half the bytes, then the connection breaks.
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(part.slice(0, part.length >> 1));
        },
        pull(c) {
          return new Promise((r) => setTimeout(r, 20)).then(() => c.close());
        },
      });
      return new Response(stream, { status: entry.status, headers });
    }
    return new Response(part, { status: entry.status, headers });
  });
  return { server, log, base: `http://127.0.0.1:${server.addr.port}` };
}

const quiet = () => new Progress(1, { write: () => {}, tty: false });

Deno.test("download: parallel, a connection cut midway resumes with Range, files verified and renamed into place", async () => {
  await withTempDir(async (dir) => {
    const { server, log, base } = serve({ cut: new Set(["shard_00001.parquet"]) });
    const lines: string[] = [];
    const progress = new Progress(3, { write: (t) => lines.push(t), tty: false, lineEvery: 0 });
    try {
      const r = await downloadShards([0, 1, 2], { dir, baseUrl: base, backoffMs: 1, log: (l) => lines.push(l), progress });
      assert.deepEqual(r.downloaded.sort(), ["shard_00000.parquet", "shard_00001.parquet", "shard_00002.parquet"]);
      assert.equal(r.bytes, FILES.reduce((s, f) => s + f.length, 0)); // each byte fetched once
      for (const [i, f] of FILES.entries()) assert.deepEqual(await Deno.readFile(`${dir}/shard_0000${i}.parquet`), f);
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(names, [DOWNLOADS, "shard_00000.parquet", "shard_00001.parquet", "shard_00002.parquet"], "no .partial left");
      const s1 = log.filter((e) => e.name === "shard_00001.parquet");
      assert.equal(s1.length, 2);
      assert.equal(s1[0].range, null);
      assert.equal(s1[1].range, `bytes=${(FILES[1].length >> 1)}-`, "second try continues from the partial file");
      assert.equal(s1[1].status, 206);
      assert.ok(lines.some((l) => /shard_00001\.parquet: try 1\/5 failed .*retrying/.test(l)), lines.join("\n"));
      assert.match(lines.at(-1)!, /\[#{24}\] 100% 3\/3 shards/);

      // A second run finds them complete: nothing is fetched.
      const before = log.length;
      const again = await downloadShards([0, 1, 2], { dir, baseUrl: base, progress: quiet() });
      assert.deepEqual(again.skipped.length, 3);
      assert.equal(log.length, before);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("download: a .partial left by an earlier run continues; a server ignoring Range starts over", async () => {
  for (const noRanges of [false, true]) {
    await withTempDir(async (dir) => {
      const { server, log, base } = serve({ noRanges });
      try {
        await Deno.writeFile(`${dir}/shard_00002.parquet.partial`, FILES[2].slice(0, 1000));
        const r = await downloadShards([2], { dir, baseUrl: base, backoffMs: 1, progress: quiet() });
        assert.deepEqual(r.downloaded, ["shard_00002.parquet"]);
        assert.deepEqual(await Deno.readFile(`${dir}/shard_00002.parquet`), FILES[2]);
        assert.equal(log[0].range, "bytes=1000-");
        assert.equal(log[0].status, noRanges ? 200 : 206);
        assert.equal(r.bytes, noRanges ? FILES[2].length : FILES[2].length - 1000);
        if (!noRanges) {
          // A .partial that is already the whole file: the server answers 416 and it is kept.
          await Deno.writeFile(`${dir}/shard_00001.parquet.partial`, FILES[1]);
          const whole = await downloadShards([1], { dir, baseUrl: base, backoffMs: 1, progress: quiet() });
          assert.deepEqual(whole.downloaded, ["shard_00001.parquet"]);
          assert.equal(log.at(-1)!.status, 416);
          assert.deepEqual(await Deno.readFile(`${dir}/shard_00001.parquet`), FILES[1]);
        }
      } finally {
        await server.shutdown();
      }
    });
  }
});

Deno.test("download: a 206 answer that starts elsewhere than asked is an error, its body released", async () => {
  await withTempDir(async (dir) => {
    let cancelled = false;
    const { server, base } = serve({ wrongStart: true, onCancel: () => cancelled = true });
    try {
      await Deno.writeFile(`${dir}/shard_00002.parquet.partial`, FILES[2].slice(0, 1000));
      const t0 = performance.now();
      await assert.rejects(
        downloadShards([2], { dir, baseUrl: base, tries: 1, backoffMs: 1, log: () => {}, progress: quiet() }),
        /failed after 1 tries \(last error: asked for bytes from 1000, the server sent from 0\)/,
      );
      for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cancelled && performance.now() - t0 < 1500, "the body was cancelled, not left streaming");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("download: bad content is retried then reported; 404 is not retried; a prepared directory is refused", async () => {
  await withTempDir(async (dir) => {
    const html = new TextEncoder().encode("<html>rate limited</html>".repeat(20));
    const { server, log, base } = serve({ replace: new Map([["shard_00000.parquet", html]]) });
    try {
      const lines: string[] = [];
      await assert.rejects(
        downloadShards([0], { dir, baseUrl: base, tries: 3, backoffMs: 5, log: (l) => lines.push(l), progress: quiet() }),
        new RegExp(`${shardUrl(0, base)}: failed after 3 tries \\(last error: .*shard_00000\\.parquet\\.partial: does not start with the parquet magic`),
      );
      assert.equal(log.length, 3);
      // The wait doubles from twice the base: 10 ms after the first try, 20 ms after the second.
      assert.deepEqual(lines.map((l) => l.match(/try (\d)\/3 failed .*retrying in ([\d.]+) s/)?.slice(1)), [["1", "0.010"], ["2", "0.020"]]);
      // Without --tries, shards and single files get the reference's 5 tries.
      await Deno.remove(`${dir}/shard_00000.parquet.partial`).catch(() => {});
      await assert.rejects(downloadShards([0], { dir, baseUrl: base, backoffMs: 1, log: () => {}, progress: quiet() }), /failed after 5 tries/);
      assert.equal(log.length, 3 + 5);
      const bad = () => Promise.reject(new Error("not the file we want"));
      await assert.rejects(
        downloadFile(`${base}/shard_00000.parquet`, `${dir}/one/file.bin`, { verify: bad, backoffMs: 1, log: () => {}, progress: quiet() }),
        /failed after 5 tries \(last error: not the file we want/,
      );
      assert.equal(log.length, 3 + 5 + 5);
      await assert.rejects(
        downloadShards([5], { dir, baseUrl: base, backoffMs: 1, log: () => {}, progress: quiet() }),
        /shard_00005\.parquet: HTTP 404/,
      );
      assert.equal(log.filter((e) => e.name === "shard_00005.parquet").length, 1);
      await Deno.writeTextFile(`${dir}/manifest.json`, "{}");
      await assert.rejects(downloadShards([1], { dir, baseUrl: base, progress: quiet() }), /holds the embedded corpus .* download into another directory/);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("download: unreachable host fails fast and points to `deno task data prepare` (API and CLI)", async () => {
  await withTempDir(async (dir) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close(); // nothing listens there now: connection refused
    const t0 = performance.now();
    await assert.rejects(
      downloadShards([0, 1, 2, 3], { dir, baseUrl: `http://127.0.0.1:${port}`, log: () => {}, progress: quiet() }),
      (err: unknown) => {
        assert.ok(err instanceof OfflineError);
        assert.match(
          err.message,
          /cannot reach 127\.0\.0\.1:\d+ \(.*Connection refused.*\)\. Without network access, use the embedded corpus instead: 'deno task data prepare'/,
        );
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 1500, "no backoff when the host is unreachable");

    const r = await dataCli(["download", "--shards", "2", "--dir", `${dir}/d`], { NANOCHAT_DATA_URL: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: cannot reach .*'deno task data prepare'/m);
    assert.doesNotMatch(r.err, /at \w+ \(/, "no stack trace");
  });
});

const readDownloadsJson = async (dir: string) => JSON.parse(await Deno.readTextFile(`${dir}/${DOWNLOADS}`)) as DownloadsFile;

Deno.test("download hashes: the SHA-256 the server names (on its redirect) is checked; damaged bytes are refused naming the shard and what to do", async () => {
  await withTempDir(async (dir) => {
    const shas = new Map(await Promise.all(FILES.map(async (f, i) => [`shard_0000${i}.parquet`, await sha256Hex(f)] as [string, string])));
    // Shard 1 arrives with one flipped byte in the middle of a data page: still a parquet
    // file (magic, footer and text column intact), so only the hash can tell.
    const damaged = FILES[1].slice();
    damaged[damaged.length >> 1] ^= 0x01;
    const { server, log, base } = serve({ redirectWithSha: shas, replace: new Map([["shard_00001.parquet", damaged]]) });
    try {
      const lines: string[] = [];
      await assert.rejects(
        downloadShards([0, 1], { dir, baseUrl: base, tries: 2, backoffMs: 1, log: (l) => lines.push(l), progress: quiet() }),
        (err: Error) => {
          assert.ok(err instanceof DataError, String(err));
          assert.equal(err.file, `${dir}/shard_00001.parquet`);
          assert.match(
            err.message,
            new RegExp(
              `shard_00001\\.parquet: refused after 2 tries: shard_00001\\.parquet: the downloaded bytes hash to [0-9a-f]{12}…, but the server says the file's SHA-256 is ${shas.get("shard_00001.parquet")!.slice(0, 12)}….*` +
                `Nothing was kept\\. Run 'deno task data download --dir ${dir} --shards 2' again; if it fails the same way, the copy at 127\\.0\\.0\\.1:\\d+ is damaged: fetch it from another mirror \\(--base-url\\)`,
            ),
          );
          return true;
        },
      );
      assert.equal(log.filter((e) => e.name === "shard_00001.parquet").length, 2, "retried once, from scratch");
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(names, [DOWNLOADS, "shard_00000.parquet"], "neither the damaged shard nor its .partial is kept");
      // The intact shard went through the same redirect and matched: recorded as server-checked.
      const rec = await readDownloadsJson(dir);
      assert.deepEqual(rec.shards, [{ name: "shard_00000.parquet", bytes: FILES[0].length, sha256: shas.get("shard_00000.parquet"), source: "server" }]);
      await verifyShard(`${dir}/shard_00000.parquet`, () => assert.fail("a recorded shard is verified, not noted"));
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("download hashes: a shard damaged on disk is refused by the loader (naming downloads.json) and fetched again by the next download", async () => {
  await withTempDir(async (dir) => {
    const { server, base } = serve();
    try {
      await downloadShards([0, 1, 2], { dir, baseUrl: base, backoffMs: 1, progress: quiet() });
      const rec = await readDownloadsJson(dir);
      assert.deepEqual(rec.shards.map((s) => [s.name, s.bytes, s.source]), FILES.map((f, i) => [`shard_0000${i}.parquet`, f.length, "download"]));
      for (const [i, s] of rec.shards.entries()) assert.equal(s.sha256, await sha256Hex(FILES[i]));
      const path = `${dir}/shard_00001.parquet`;
      for (const offset of [8, FILES[1].length - 1, FILES[1].length >> 1]) { // the last one a page byte: only the hash tells
        const bad = FILES[1].slice();
        bad[offset] ^= 0x20;
        await Deno.writeFile(path, bad);
        await assert.rejects(
          verifyShard(path),
          new RegExp(`${path}: its contents do not match the SHA-256 in ${dir}/${DOWNLOADS} .*run 'deno task data download --dir ${dir}' with the same --shards again`),
          `offset ${offset}`,
        );
      }
      const lines: string[] = [];
      const again = await downloadShards([0, 1, 2], { dir, baseUrl: base, backoffMs: 1, log: (l) => lines.push(l), progress: quiet() });
      assert.deepEqual(again.downloaded, ["shard_00001.parquet"]);
      assert.ok(lines.some((l) => /shard_00001\.parquet: the bytes on disk .* are not what downloads\.json recorded .*\n {2}-> downloading it again/.test(l)), lines.join("\n"));
      assert.deepEqual(await Deno.readFile(path), FILES[1]);
      await verifyShard(path);
    } finally {
      await server.shutdown();
    }
    // A server that now sends other bytes for a recorded shard (missing here) is refused.
    await Deno.remove(`${dir}/shard_00002.parquet`);
    const other = serve({ replace: new Map([["shard_00002.parquet", FILES[0]]]) });
    try {
      await assert.rejects(
        downloadShards([2], { dir, baseUrl: other.base, tries: 1, backoffMs: 1, log: () => {}, progress: quiet() }),
        /shard_00002\.parquet: refused after 1 tries: .*are not what downloads\.json recorded when the shard was first downloaded.*or, if the dataset itself changed, delete its entry in downloads\.json/,
      );
    } finally {
      await other.server.shutdown();
    }
  });
});
