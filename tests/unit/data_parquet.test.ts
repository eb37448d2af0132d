// Parquet shards: fixtures written with hyparquet-writer (several row groups; uncompressed,
// snappy, zstd) read back exactly, row group by row group, from bytes, Blobs, local
// files and HTTP ranges; bad files give errors that name the file and the problem.
import assert from "node:assert/strict";
import { ParquetShard, readTextBatches } from "../../src/data/parquet.ts";
import { blobSource, bytesSource, urlSource } from "../../src/data/sources.ts";
import { fileSource, openShardFile, readShardFile } from "../../src/data/deno_source.ts";
import { encodeShard } from "../../src/data/shard_writer.ts";
import { DataError } from "../../src/data/errors.ts";
import { makeDocs, shardBytes, withTempDir } from "../fixtures/data/helpers.ts";

const DOCS = [...makeDocs(3500), "", "tab\tnewline\nCRLF\r\n", "中文 한국어 العربية", "x".repeat(100_000)];

for (const codec of ["UNCOMPRESSED", "SNAPPY", "ZSTD"] as const) {
  Deno.test(`parquet: ${codec} shard with 4 row groups reads back exactly, one row group at a time`, async () => {
    const bytes = shardBytes(DOCS, 1024, codec);
    const shard = await ParquetShard.open(bytesSource(bytes, `fixture-${codec}.parquet`));
    assert.equal(shard.info.codec, codec);
    assert.equal(shard.info.numRows, DOCS.length);
    assert.deepEqual(shard.info.rowGroups, [1024, 1024, 1024, DOCS.length - 3072]);
    const back: string[] = [];
    for (let g = 0; g < shard.numRowGroups; g++) {
      const rows = await shard.readRowGroup(g);
      assert.equal(rows.length, shard.info.rowGroups[g]);
      back.push(...rows);
    }
    assert.deepEqual(back, DOCS);
    // Row groups are independent: the third alone is the third slice.
    assert.deepEqual(await shard.readRowGroup(2), DOCS.slice(2048, 3072));
  });
}

Deno.test("parquet: reading a row group fetches that row group's bytes, not the whole file", async () => {
  const bytes = shardBytes(makeDocs(4096), 512, "UNCOMPRESSED");
  const src = bytesSource(bytes, "big.parquet");
  let fetched = 0;
  const counting = { ...src, slice: (s: number, e?: number) => (fetched += (e ?? bytes.length) - s, src.slice(s, e)) };
  const shard = await ParquetShard.open(counting);
  // hyparquet's first footer read takes up to 512 KB; after that only the row group.
  const before = fetched;
  await shard.readRowGroup(5);
  const rg = shard.metadata.row_groups[5].columns[0].meta_data!;
  assert.ok(fetched - before <= Number(rg.total_compressed_size) + 1024, `read ${fetched - before} bytes for one row group`);
  assert.ok(fetched - before < bytes.length / 4, `${fetched - before} of ${bytes.length}`);
});

Deno.test("parquet: readTextBatches from a local path, a Blob, bytes and an HTTP Range URL give the same batches", async () => {
  await withTempDir(async (dir) => {
    const docs = makeDocs(300);
    const bytes = shardBytes(docs, 128);
    const path = `${dir}/shard_00000.parquet`;
    await Deno.writeFile(path, bytes);
    const collect = async (it: AsyncIterable<string[]>) => {
      const out: string[][] = [];
      for await (const b of it) out.push(b);
      return out;
    };
    const expected = [docs.slice(0, 128), docs.slice(128, 256), docs.slice(256)];
    assert.deepEqual(await collect(readShardFile(path)), expected);
    assert.deepEqual(await collect(readTextBatches(new Blob([bytes as Uint8Array<ArrayBuffer>]))), expected);
    assert.deepEqual(await collect(readTextBatches(bytes)), expected);
    assert.deepEqual(await collect(readShardFile(path, { rowGroups: [2, 0] })), [expected[2], expected[0]]);

    const ranges: string[] = [];
    await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const m = req.headers.get("range")?.match(/bytes=(\d+)-(\d+)/);
      if (!m) return new Response(bytes as Uint8Array<ArrayBuffer>);
      ranges.push(m[0]);
      const [s, e] = [Number(m[1]), Math.min(Number(m[2]), bytes.length - 1)];
      return new Response(bytes.slice(s, e + 1), { status: 206, headers: { "content-range": `bytes ${s}-${e}/${bytes.length}` } });
    });
    const url = `http://127.0.0.1:${server.addr.port}/shard_00000.parquet`;
    const remote = await urlSource(url);
    assert.deepEqual(await collect(readTextBatches(remote)), expected);
    assert.ok(ranges.length >= 3, `range requests: ${ranges.join(", ")}`);
    // An empty range is empty and asks the server nothing.
    const asked = ranges.length;
    assert.equal((await remote.slice(10, 10)).byteLength, 0);
    assert.equal((await remote.slice(10, 11)).byteLength, 1);
    assert.equal(ranges.length, asked + 1);
  });
});

Deno.test("parquet: a server that ignores Range (200 with the whole file) is read whole, correctly", async () => {
  await withTempDir(async () => {
    const docs = makeDocs(300);
    const bytes = shardBytes(docs, 128);
    let requests = 0;
    await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      requests++;
      return new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { "content-length": String(bytes.length) } });
    });
    const remote = await urlSource(`http://127.0.0.1:${server.addr.port}/shard_00000.parquet`);
    assert.equal(remote.byteLength, bytes.length);
    const out: string[] = [];
    for await (const b of readTextBatches(remote)) out.push(...b);
    assert.deepEqual(out, docs);
    assert.equal(requests, 2); // the probe, then the whole file once
  });
});

Deno.test("parquet: an HTTP error names the URL and the status", async () => {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("no such shard ".repeat(1000), { status: 404, statusText: "Not Found" }));
  const url = `http://127.0.0.1:${server.addr.port}/shard_00009.parquet`;
  await assert.rejects(urlSource(url), (err: Error) => err.message === `${url}: HTTP 404 Not Found`);
});

Deno.test("parquet: a local file source reads concurrent ranges correctly", async () => {
  await withTempDir(async (dir) => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 31) & 255);
    await Deno.writeFile(`${dir}/f.bin`, bytes);
    const src = await fileSource(`${dir}/f.bin`);
    const parts = await Promise.all([[0, 10], [50_000, 60_000], [99_990, 100_000], [5, 95_000]].map(([s, e]) => src.slice(s, e)));
    assert.deepEqual(new Uint8Array(parts[1]), bytes.slice(50_000, 60_000));
    assert.deepEqual(new Uint8Array(parts[2]), bytes.slice(99_990));
    assert.deepEqual(new Uint8Array(parts[3]), bytes.slice(5, 95_000));
    src.close?.();
    assert.equal(blobSource(new Blob([bytes])).byteLength, 100_000);
  });
});

async function rejectsWith(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${err}`);
    assert.equal(err.userFacing, true);
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(file), err.message);
    assert.match(err.message, problem);
    return true;
  });
}

Deno.test("parquet: truncated, corrupt, non-parquet and text-less files give errors naming the file and the problem", async () => {
  await withTempDir(async (dir) => {
    const bytes = shardBytes(makeDocs(600), 128, "ZSTD");
    const cases: [string, Uint8Array, RegExp][] = [
      ["truncated.parquet", bytes.slice(0, bytes.length - 100), /does not end with the parquet magic 'PAR1': the file is truncated.*deno task data prepare/],
      ["half.parquet", bytes.slice(0, bytes.length >> 1), /truncated/],
      ["empty.parquet", new Uint8Array(0), /only 0 bytes: too short/],
      ["notparquet.parquet", new TextEncoder().encode("<html>404 Not Found</html> and then some more text PAR1"), /does not start with the parquet magic/],
      [
        "footer.parquet",
        (() => {
          const b = bytes.slice();
          new DataView(b.buffer).setUint32(b.length - 8, b.length * 2, true);
          return b;
        })(),
        /footer length \d+ does not fit/,
      ],
      [
        "notext.parquet",
        encodeShard([], { omitText: true, extraColumns: [{ name: "body", data: ["a", "b"] }, { name: "url", data: ["u", "v"] }], codec: "SNAPPY" }),
        /has no 'text' column \(columns: body, url\)/,
      ],
    ];
    for (const [name, data, problem] of cases) {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, data);
      await rejectsWith(openShardFile(path), path, problem);
    }
    await rejectsWith(openShardFile(`${dir}/missing.parquet`), `${dir}/missing.parquet`, /no such shard file/);

    // Garbage inside a row group's pages: the footer is fine, so the error comes from
    // that row group, naming it.
    const shard = await ParquetShard.open(bytesSource(bytes, "x"));
    const meta = shard.metadata.row_groups[2].columns[0].meta_data!;
    const bad = bytes.slice();
    const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
    for (let i = start + 40; i < start + Number(meta.total_compressed_size) - 8; i++) bad[i] ^= 0x5a;
    const path = `${dir}/corrupt.parquet`;
    await Deno.writeFile(path, bad);
    const opened = await openShardFile(path);
    assert.deepEqual(await opened.readRowGroup(0), makeDocs(600).slice(0, 128));
    await rejectsWith(opened.readRowGroup(2), path, /row group 2 of 5 cannot be decoded .*: the file is corrupt/);
    opened.close();
  });
});

Deno.test("parquet: the writer checks its row-group size and marks the text column required, as FineWeb-Edu's shards do", async () => {
  for (const bad of [0, -1, 1.5]) assert.throws(() => encodeShard(["a"], { codec: "UNCOMPRESSED", rowGroupSize: bad }), new RegExp(`rowGroupSize must be a positive integer, got ${bad}`));
  const bytes = encodeShard(["a", "b", "c"], { codec: "UNCOMPRESSED", rowGroupSize: 1 });
  const shard = await ParquetShard.open(bytesSource(bytes));
  assert.deepEqual(shard.info.rowGroups, [1, 1, 1]);
  const text = shard.metadata.schema.find((e) => e.name === "text");
  assert.equal(text?.repetition_type, "REQUIRED");
});
