import assert from "node:assert/strict";
import { formatMetricsLine, MetricsError, parseMetrics, readMetrics, validateRunInfo } from "../../src/formats/metrics.ts";
import { MetricsLog, readMetricsFile, readRunInfo, updateRunStatus, writeRunInfo } from "../../src/train/deno_metrics.ts";

const MODULE = new URL("../../src/train/deno_metrics.ts", import.meta.url).href;

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "metrics_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("metrics: complete lines parse, a trailing partial line waits, bad complete lines are reported", () => {
  const a = formatMetricsLine({ type: "train", step: 0, loss: 8.3, mfu: null });
  assert.equal(a, '{"type":"train","step":0,"loss":8.3,"mfu":null}\n');
  assert.equal(formatMetricsLine({ step: 1, loss: NaN, x: Infinity }), '{"step":1,"loss":null,"x":null}\n', "no NaN in JSON");
  assert.throws(() => formatMetricsLine(null as unknown as Record<string, unknown>), MetricsError);

  const text = a + formatMetricsLine({ step: 1 }) + '{"step":2,"lo';
  assert.deepEqual(readMetrics(text).map((r) => r.step), [0, 1]);
  const p = parseMetrics(text);
  assert.equal(p.consumed, text.lastIndexOf("\n") + 1);
  assert.deepEqual(readMetrics(text.slice(p.consumed) + 'ss":1}\n'), [{ step: 2, loss: 1 }], "a tailing reader keeps the rest");
  assert.deepEqual(readMetrics(""), []);
  assert.deepEqual(readMetrics("\n\n"), []);

  // A line cut by a crash and then ended by the next writer: skipped (or fatal when strict).
  const crashed = '{"step":3,"lo\n{"step":4}\n[1,2]\n';
  assert.deepEqual(parseMetrics(crashed).badLines, [1, 3]);
  assert.deepEqual(readMetrics(crashed), [{ step: 4 }]);
  assert.throws(() => readMetrics(crashed, { strict: true, source: "m.jsonl" }), /m\.jsonl: line 1 is not a JSON object/);
});

Deno.test("metrics: MetricsLog appends across reopenings and repairs a partial last line", () =>
  withDir(async (dir) => {
    const log = await MetricsLog.open(`${dir}/run`);
    await log.append({ step: 0, loss: 8 });
    await log.append({ step: 1, loss: 7.5 });
    await log.sync();
    log.close();
    await assert.rejects(log.append({ step: 2 }), /metrics log is closed/);
    assert.deepEqual(await readMetricsFile(`${dir}/run`), [{ step: 0, loss: 8 }, { step: 1, loss: 7.5 }]);

    // A crash mid-write left half a line; the resumed run starts on a fresh line.
    await Deno.writeTextFile(`${dir}/run/metrics.jsonl`, '{"step":2,"lo', { append: true });
    const again = await MetricsLog.open(`${dir}/run`);
    await again.append({ step: 2, loss: 7 });
    again.close();
    const text = await Deno.readTextFile(`${dir}/run/metrics.jsonl`);
    assert.deepEqual(parseMetrics(text).badLines, [3]);
    assert.deepEqual(readMetrics(text).map((r) => r.step), [0, 1, 2]);
    assert.deepEqual(await readMetricsFile(`${dir}/none`), []);
  }));

Deno.test("metrics: a reader polling while another process appends only ever sees whole lines", () =>
  withDir(async (dir) => {
    const N = 20000;
    // Lines of varying size, up to ~24 KB, so some writes are large enough to be caught
    // half-way by a read; each carries its own checksum (its padding length).
    const code = `
      import { MetricsLog } from ${JSON.stringify(MODULE)};
      const log = await MetricsLog.open(${JSON.stringify(dir)});
      for (let i = 0; i < ${N}; i++) {
        const pad = "x".repeat((i * 7919) % (i % 100 === 0 ? 24000 : 200));
        await log.append({ step: i, loss: 1 / (i + 1), pad, n: pad.length });
      }
      log.close();`;
    const child = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "null", stderr: "piped" }).spawn();
    let done = false;
    const status = child.status.then((s) => ((done = true), s));
    const path = `${dir}/metrics.jsonl`;
    let polls = 0, partialSeen = 0, lastCount = 0;
    const check = (text: string) => {
      const p = parseMetrics(text, { strict: true, source: path }); // throws on any broken complete line
      if (p.consumed < text.length) partialSeen++;
      p.records.forEach((r, i) => {
        assert.equal(r.step, i, "lines arrive whole and in order");
        assert.equal((r.pad as string).length, r.n);
      });
      assert.ok(p.records.length >= lastCount, "the log only grows");
      lastCount = p.records.length;
    };
    // Two readers: one rereads the whole file, one tails it from where it stopped (as the
    // lab server does), keeping the unconsumed rest for the next poll.
    let tail = "", tailed = 0, offset = 0;
    const decoder = new TextDecoder();
    while (!done) {
      const text = await Deno.readTextFile(path).catch(() => "");
      check(text);
      const bytes = await Deno.readFile(path).catch(() => new Uint8Array(0));
      tail += decoder.decode(bytes.subarray(offset), { stream: true });
      offset = bytes.length;
      const p = parseMetrics(tail, { strict: true });
      for (const r of p.records) assert.equal(r.step, tailed++);
      tail = tail.slice(p.consumed);
      polls++;
      await new Promise((r) => setTimeout(r, 0));
    }
    const s = await status;
    assert.equal(s.code, 0, new TextDecoder().decode((await new Response(child.stderr).arrayBuffer())));
    check(await Deno.readTextFile(path));
    assert.equal(lastCount, N);
    tail += decoder.decode(await Deno.readFile(path).then((b) => b.subarray(offset)));
    tailed += readMetrics(tail, { strict: true }).length;
    assert.equal(tailed, N);
    assert.ok(polls > 5, `the reader polled ${polls} times while the writer ran`);
    console.log(`  ${polls} polls while writing, ${partialSeen} saw a line still being written`);
  }));

Deno.test("metrics: run.json is written atomically, read back, and its status updated", () =>
  withDir(async (dir) => {
    const runDir = `${dir}/tiny`;
    assert.equal(await readRunInfo(runDir), null);
    await Deno.mkdir(runDir);
    const info = await writeRunInfo(runDir, {
      name: "tiny", stage: "base", config: { depth: 2 }, adapter: "llvmpipe (software)", started_at: "2026-01-01T00:00:00.000Z", status: "running",
    });
    assert.ok(Date.parse(info.updated_at) > 0);
    assert.deepEqual(await readRunInfo(runDir), info);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(runDir))).map((e) => e.name), ["run.json"], "no temp file left");
    const done = await updateRunStatus(runDir, "failed", { step: 17, error: "loss became NaN" });
    assert.equal(done.status, "failed");
    assert.equal(done.step, 17);
    assert.equal(done.config.depth, 2);
    assert.deepEqual(await readRunInfo(runDir), done);
    await assert.rejects(updateRunStatus(runDir, "paused" as "running"), /field "status" must be one of running, finished, failed, stopped, got "paused"/);
    await assert.rejects(updateRunStatus(`${dir}/other`, "stopped"), /other\/run\.json does not exist/);
    await Deno.writeTextFile(`${runDir}/run.json`, '{"name": "tiny"}');
    await assert.rejects(readRunInfo(runDir), /run\.json: field "stage" is missing or not a string/);
    await Deno.writeTextFile(`${runDir}/run.json`, "{");
    await assert.rejects(readRunInfo(runDir), (e: Error & { userFacing?: boolean }) => e.userFacing === true && /run\.json is not valid JSON/.test(e.message));
  }));

Deno.test("run.json: a value that is not a JSON object (null, an array, a string) is refused as such", () => {
  for (const raw of [null, [], "x", 3]) assert.throws(() => validateRunInfo(raw, "r/run.json"), (e: Error) => e instanceof MetricsError && /r\/run\.json: field "\(top level\)" must be a JSON object/.test(e.message));
});
