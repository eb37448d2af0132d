// The download progress line: fraction, files, MB (files not started counted at the mean
// size of the started ones), rate and ETA; one redrawn line on a terminal (≤ 10 a second),
// plain lines every few seconds in logs; nothing at all when nothing happened.
import assert from "node:assert/strict";
import { Progress } from "../../src/data/deno_progress.ts";

function clocked(files: number, tty: boolean, lineEvery = 5) {
  let t = 0;
  const out: string[] = [];
  const p = new Progress(files, { write: (s) => out.push(s), tty, lineEvery, now: () => t });
  return { p, out, tick: (ms: number) => (t += ms) };
}

Deno.test("progress: the line counts bytes, files and the not-yet-started files at the mean size", () => {
  const { p, tick } = clocked(4, false);
  p.setSize("a", 2e6, 0.5e6); // resumed: 0.5 MB were there already (not counted in the rate)
  p.setSize("b", 4e6, 0);
  tick(2000);
  p.add("a", 1.5e6);
  p.add("b", 1e6);
  // have 3 MB of 2 + 4 + 2 × 3 (two unstarted at the mean 3 MB) = 12 MB: 25%; 2.5 MB in 2 s.
  assert.equal(p.line(), "[######------------------]  25% 0/4 shards 3.0/12.0 MB 1.3 MB/s eta 7s");
  p.finish("a");
  p.skip();
  // a skipped file leaves the estimate: 2 + 4 + 3 = 9 MB.
  assert.equal(p.line(), "[########----------------]  33% 2/4 shards 3.0/9.0 MB 1.3 MB/s eta 5s");
  p.finish("b");
  p.finish("c");
  assert.equal(p.line(), "[########################] 100% 4/4 shards 3.0/9.0 MB 1.3 MB/s");
  assert.match(new Progress(2, { unit: "files", write: () => {} }).line(), /0\/2 files 0\.0\/0\.0 MB/);
  // Every file started: the total is the sum of their sizes, nothing is estimated.
  const all = clocked(2, false);
  all.p.setSize("a", 2e6, 0);
  all.p.setSize("b", 2e6, 0);
  all.p.add("a", 1e6);
  assert.match(all.p.line(), /^\[######-+\] {2}25% 0\/2 shards 1\.0\/4\.0 MB/);
});

Deno.test("progress: terminal redraws one line at most every 100 ms and ends it; logs print a line every few seconds", () => {
  const tty = clocked(2, true);
  tty.p.setSize("a", 1e6, 0);
  tty.p.add("a", 1);
  tty.tick(50);
  tty.p.add("a", 1);
  tty.tick(60);
  tty.p.add("a", 1);
  assert.equal(tty.out.length, 2, "the second update came 50 ms after the first draw");
  assert.ok(tty.out.every((s) => s.startsWith("\r[") && s.endsWith("\x1b[K")));
  tty.p.finish("a");
  assert.equal(tty.out.length, 3, "finishing a file always draws");
  tty.p.end();
  assert.equal(tty.out.at(-1), "\n");

  const log = clocked(2, false, 5);
  log.p.setSize("a", 1e6, 0);
  log.tick(4000);
  log.p.add("a", 10);
  log.tick(1500);
  log.p.add("a", 10);
  assert.equal(log.out.length, 2);
  assert.ok(log.out.every((s) => s.endsWith("\n") && !s.includes("\r")));
  log.p.end();
  assert.equal(log.out.length, 3);

  const idle = clocked(3, true);
  idle.p.end();
  assert.deepEqual(idle.out, [], "no empty bar when nothing happened");
});
