// Two real `deno task data prepare` processes started together on one directory take
// turns (the directory's .prepare.lock): one builds the shards, the other waits for it
// and then finds them prepared and verified, so they never write the same files at once.
import assert from "node:assert/strict";
import { dataCli, withTempDir } from "../fixtures/data/helpers.ts";

Deno.test({
  name: "data prepare: two processes on one directory serialise; one builds, the other waits and finds it prepared",
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (dir) => {
      const args = ["prepare", "--dir", dir, "--codec", "snappy"];
      const [a, b] = await Promise.all([dataCli(args), dataCli(args)]);
      assert.equal(a.code, 0, a.err);
      assert.equal(b.code, 0, b.err);
      const outs = [a.out, b.out];
      assert.equal(outs.filter((o) => /^prepared \d+ shards/m.test(o)).length, 1, outs.join("\n---\n"));
      const second = outs.find((o) => /^already prepared: /m.test(o));
      assert.ok(second, outs.join("\n---\n"));
      assert.match(second, /waiting for pid \d+ \(preparing .* since \d{4}-/, "the second one waited for the first");
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith(".prepare.lock"));
      assert.deepEqual(left, [], "the lock is released");
    });
  },
});
