// `deno task data ...`: help, and one clear error line (exit 1, no stack) for bad input.
import assert from "node:assert/strict";
import { dataCli, makeDocs, shardBytes, withTempDir } from "../fixtures/data/helpers.ts";

Deno.test("cli: data --help and each command's --help list the commands and flags", async () => {
  const top = await dataCli(["--help"]);
  assert.equal(top.code, 0);
  for (const c of ["prepare", "download", "info"]) assert.match(top.out, new RegExp(`\\n  ${c} +\\S`));
  const prep = await dataCli(["prepare", "--help"]);
  assert.match(prep.out, /usage: deno task data prepare \[flags\]/);
  assert.match(prep.out, /--force +rebuild even if the shards are already prepared/);
  const dl = await dataCli(["download", "--help"]);
  assert.match(dl.out, /--shards <number> +how many shards, from shard_00000 \(1\.\.1823; -1 = all\) \(default: 8\)/);
  assert.match(dl.out, /--base-url <string>/);
});

Deno.test("cli: data info lists shards and names a broken one; bad flags are one clear line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/shard_00000.parquet`, shardBytes(makeDocs(300), 128));
    await Deno.writeFile(`${dir}/shard_00001.parquet`, shardBytes(makeDocs(100), 128));
    const ok = await dataCli(["info", "--dir", dir]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /shard_00000\.parquet +train +300 rows +3 row groups +ZSTD/);
    assert.match(ok.out, /shard_00001\.parquet +val +100 rows +1 row groups/);
    assert.match(ok.out, /2 shards, 400 rows/);

    const bytes = await Deno.readFile(`${dir}/shard_00001.parquet`);
    await Deno.writeFile(`${dir}/shard_00001.parquet`, bytes.slice(0, 500));
    const checks: [string[], RegExp][] = [
      [
        ["info", "--dir", dir],
        /^error: .*shard_00001\.parquet: does not end with the parquet magic 'PAR1': the file is truncated .*; delete it and re-create it with 'deno task data prepare'/m,
      ],
      [["info", "--dir", `${dir}/none`], /no parquet shards in .*none: run 'deno task data prepare'/],
      [["prepare", "--codec", "lzma", "--dir", `${dir}/p`], /--codec must be one of zstd, snappy, none, got "lzma"/],
      [["download", "--shards", "0"], /--shards must be 1\.\.1823 \(or -1 for all\), got 0/],
      [["download", "--shards", "9999"], /--shards must be 1\.\.1823/],
      [["download", "--workers", "two"], /--workers expects a number, got "two"/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["prepare", "--bogus"], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of checks) {
      const r = await dataCli(args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.out}`);
      assert.match(r.err, message, args.join(" "));
      assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
    }
  });
});
