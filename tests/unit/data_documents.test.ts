// The documents `deno task tok train` reads: paragraphs of .txt files cropped near doc-cap,
// the "text" of .jsonl lines (1,024 per batch), parquet shards row group by row group, and
// the train shards of a data directory (all but the last).
import assert from "node:assert/strict";
import { listShards, paragraphDocuments, shardBatches, textFileBatches } from "../../src/data/deno_documents.ts";
import { makeDocs, withTempDir, writeShards } from "../fixtures/data/helpers.ts";

async function collect(it: AsyncIterable<string[]>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const b of it) out.push(b);
  return out;
}

Deno.test("documents: paragraphs are kept whole, grouped up to the cap, and join back to the file", () => {
  const text = "aa aa\n\nbbb\n\ncc\n \nd";
  assert.deepEqual(paragraphDocuments(text, 100), [text]);
  assert.deepEqual(paragraphDocuments(text, 8), ["aa aa\n\n", "bbb\n\n", "cc\n \nd"]); // 7 + 5 > 8, 5 + 5 > 8, 5 + 1 ≤ 8
  assert.deepEqual(paragraphDocuments(text, 1), ["aa aa\n\n", "bbb\n\n", "cc\n \n", "d"]);
  assert.equal(paragraphDocuments(text, 3).join(""), text);
  assert.deepEqual(paragraphDocuments("", 5), []);
});

Deno.test("documents: .txt, .jsonl (1,024 lines a batch) and .parquet files; bad lines and missing files are named", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.txt`, "one\n\ntwo");
    const lines = Array.from({ length: 1025 }, (_, i) => JSON.stringify({ text: `doc ${i}`, other: 1 }));
    await Deno.writeTextFile(`${dir}/b.jsonl`, lines.join("\n") + "\n\n");
    const [shard] = await writeShards(dir, [makeDocs(5, "p")], 2);
    const got = await collect(textFileBatches([`${dir}/a.txt`, `${dir}/b.jsonl`, shard], 4));
    assert.deepEqual(got[0], ["one\n\n", "two"]);
    assert.equal(got[1].length, 1024);
    assert.deepEqual([got[1][0], got[1][1023], got[2]], ["doc 0", "doc 1023", ["doc 1024"]]);
    assert.deepEqual(got.slice(3).flat(), makeDocs(5, "p"));
    assert.equal(got.length, 3 + 3); // 5 rows in row groups of 2

    await Deno.writeTextFile(`${dir}/bad.jsonl`, '{"text":"ok"}\nnot json\n');
    await assert.rejects(collect(textFileBatches([`${dir}/bad.jsonl`], 4)), /bad\.jsonl line 2 is not JSON/);
    await Deno.writeTextFile(`${dir}/notext.jsonl`, '{"text":"ok"}\n{"body":"x"}\n');
    await assert.rejects(collect(textFileBatches([`${dir}/notext.jsonl`], 4)), /notext\.jsonl line 2 has no string "text" field/);
    await assert.rejects(collect(textFileBatches([`${dir}/missing.txt`], 4)), /input file not found: .*missing\.txt/);
  });
});

Deno.test("documents: a data directory's train shards are all but the last; an empty one has none", async () => {
  await withTempDir(async (dir) => {
    assert.deepEqual(await listShards(`${dir}/none`), { train: [], val: null });
    const paths = await writeShards(dir, [makeDocs(3, "a"), makeDocs(2, "b"), makeDocs(4, "c")], 2);
    const l = await listShards(dir + "/");
    assert.deepEqual(l, { train: paths.slice(0, 2), val: paths[2] });
    assert.deepEqual((await collect(shardBatches(dir))).flat(), [...makeDocs(3, "a"), ...makeDocs(2, "b")]);
  });
});
