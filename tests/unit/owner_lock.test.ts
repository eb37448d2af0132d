// Owner locks (src/io/deno_lock.ts) under real contention: several real processes race for
// one lock, a holder killed with SIGKILL leaves a stale lock that exactly one of the next
// racers takes over, and a recycled pid is not mistaken for the holder.
import assert from "node:assert/strict";
import { acquireLock, holderAlive, LockHeldError, readLock } from "../../src/io/deno_lock.ts";

const RACER = new URL("../fixtures/lock_racer.ts", import.meta.url).pathname;
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts n racers on `lock`, releases them together, and returns their outcomes. */
async function race(dir: string, lock: string, n: number) {
  for (const f of ["go", "done"]) await Deno.remove(`${dir}/${f}`).catch(() => {});
  const ids = Array.from({ length: n }, (_, i) => `${Date.now()}-${i}`);
  const children = ids.map((id) =>
    new Deno.Command(Deno.execPath(), { args: ["run", "-A", RACER, lock, dir, id], stdout: "null", stderr: "piped" }).spawn()
  );
  await waitFor("the racers to start", async () => (await Promise.all(ids.map((id) => exists(`${dir}/ready-${id}`)))).every(Boolean));
  await Deno.writeTextFile(`${dir}/go`, "");
  await waitFor("the racers' results", async () => (await Promise.all(ids.map((id) => exists(`${dir}/result-${id}`)))).every(Boolean));
  const results = await Promise.all(ids.map((id) => Deno.readTextFile(`${dir}/result-${id}`)));
  return { results, children };
}

Deno.test({
  name: "owner lock: of four real processes racing for one lock exactly one holds it; the others are refused naming the holder",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "lock-race-" });
    const lock = `${dir}/owner.lock`;
    const { results, children } = await race(dir, lock, 4);
    const winners = results.filter((r) => r.startsWith("HELD"));
    assert.equal(winners.length, 1, results.join("\n"));
    const pid = winners[0].split(" ")[1];
    for (const r of results.filter((r) => r.startsWith("REFUSED"))) {
      assert.match(r, new RegExp(`the test directory is in use by pid ${pid} on \\S+ \\(since \\d{4}-\\d\\d-\\d\\dT[^:]+:\\d\\d:\\d\\d`));
    }
    assert.equal(readLock(lock)?.holder?.pid, Number(pid));
    await Deno.writeTextFile(`${dir}/done`, "");
    for (const c of children) assert.ok((await c.status).success);
    assert.equal(await exists(lock), false, "the holder removes its lock when it ends");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "owner lock: a holder killed with SIGKILL leaves a stale lock; of four racers exactly one takes it over",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "lock-stale-" });
    const lock = `${dir}/owner.lock`;
    const first = await race(dir, lock, 1);
    assert.match(first.results[0], /^HELD/);
    const deadPid = Number(first.results[0].split(" ")[1]);
    first.children[0].kill("SIGKILL");
    await first.children[0].status;
    assert.equal(readLock(lock)?.holder?.pid, deadPid, "SIGKILL leaves the lock file behind");
    assert.equal(readLock(lock)?.alive, false, "its holder is dead");

    const { results, children } = await race(dir, lock, 4);
    const winners = results.filter((r) => r.startsWith("HELD"));
    assert.equal(winners.length, 1, results.join("\n"));
    const pid = winners[0].split(" ")[1];
    for (const r of results.filter((r) => r.startsWith("REFUSED"))) assert.match(r, new RegExp(`in use by pid ${pid} `), "refused by the new holder, not the dead one");
    await Deno.writeTextFile(`${dir}/done`, "");
    for (const c of children) await c.status;
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("owner lock: a live pid with another start tick is a recycled pid (stale); another host's holder is never broken", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lock-pid-" });
  const lock = `${dir}/owner.lock`;
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const base = { hostname: Deno.hostname(), started_at: "2026-01-01T00:00:00Z", command: "test" };
    assert.equal(holderAlive({ ...base, pid: child.pid }), true);
    if (await exists("/proc/self/stat")) assert.equal(holderAlive({ ...base, pid: child.pid, proc_start: "1" }), false);
    await Deno.writeTextFile(lock, JSON.stringify({ ...base, pid: child.pid, hostname: "elsewhere.example" }));
    await assert.rejects(acquireLock(lock, { what: "it" }), (err: Error) => {
      assert.ok(err instanceof LockHeldError);
      assert.match(err.message, new RegExp(`in use by pid ${child.pid} on elsewhere\\.example .*If that host no longer runs it, delete ${lock}`));
      return true;
    });
    // Our own lock is released by release(), and only ours: a replaced file is left alone.
    await Deno.remove(lock);
    const mine = await acquireLock(lock, { what: "it" });
    await Deno.writeTextFile(lock, JSON.stringify({ ...base, pid: child.pid }));
    mine.release();
    assert.equal(readLock(lock)?.holder?.pid, child.pid);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
