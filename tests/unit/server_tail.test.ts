// The server's incremental metrics reader: line numbers of skipped lines stay right across
// appends (each read continues where the last stopped), and the log's URL shortening.
import assert from "node:assert/strict";
import { shortUrl } from "../../src/server/server.ts";
import { MetricsStatsCache } from "../../src/server/tail.ts";

Deno.test("metrics tail: bad lines keep their file line numbers across incremental reads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/metrics.jsonl`;
    const train = (step: number) => JSON.stringify({ type: "train", step, loss: 1 / step }) + "\n";
    await Deno.writeTextFile(path, train(1) + "not json\n" + train(2));
    const cache = new MetricsStatsCache();
    let s = await cache.get(path);
    assert.deepEqual(s.badLines, [2]);
    assert.equal(s.lines, 3);
    await Deno.writeTextFile(path, train(3) + "[1,2]\n" + train(4) + "{oops\n" + "{\"type\":\"train\",\"st", { append: true });
    s = await cache.get(path);
    assert.deepEqual(s.badLines, [2, 5, 7]);
    assert.equal(s.lines, 7); // the unfinished last line is not read yet
    assert.equal(s.lastStep, 4);
    await Deno.writeTextFile(path, "ep\":5}\n", { append: true });
    s = await cache.get(path);
    assert.deepEqual(s.badLines, [2, 5, 7]);
    assert.equal(s.lines, 8);
    assert.equal(s.lastStep, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server log: a request URL is shown as its path, cut after 200 characters", () => {
  assert.equal(shortUrl("http://127.0.0.1:8787/api/runs?x=1"), "/api/runs?x=1");
  const p200 = "/" + "a".repeat(199);
  assert.equal(shortUrl(`http://h${p200}`), p200);
  assert.equal(shortUrl(`https://h${p200}b`), p200 + "…");
});
