// CORE's eval bundle: the zip reader on an archive Python's zipfile wrote
// (tests/fixtures/core/eval_bundle.zip: stored and deflated entries), the download path
// (fetch stubbed) that records the zip's SHA-256 and unpacks it, the loader reading each
// task type's items exactly, and a clear error for each kind of malformed input.
import assert from "node:assert/strict";
import { bytesSource, concatChunks, crc32, readZipDirectory, readZipEntry, zipChunks } from "../../src/formats/zip.ts";
import { parseCoreYaml, parseCsv, parseRandomBaselines } from "../../src/eval/core_bundle.ts";
import { parseYamlSubset } from "../../src/eval/core_yaml.ts";
import { downloadBundle, findBundle, loadCoreBundle } from "../../src/eval/deno_core_bundle.ts";
import { Progress } from "../../src/data/deno_progress.ts";
import { FIXTURE_DIR, FIXTURE_ZIP } from "../fixtures/core/bigram.ts";

const quiet = { progress: new Progress(1, { write: () => {}, tty: false }), log: () => {}, tries: 1, backoffMs: 1 };

/** A fetch that serves `bytes` for any URL (200, with its length), counting calls. */
function serving(bytes: Uint8Array) {
  const f: { calls: number; fetch: typeof fetch } = {
    calls: 0,
    fetch: () => (f.calls++, Promise.resolve(new Response(bytes.slice(), { headers: { "content-length": String(bytes.length) } }))),
  };
  return f;
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "core_bundle_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const text = (s: string) => new TextEncoder().encode(s);
/** A stored zip of the files, from the checkpoint writer (the bundle reader takes stored entries as well as deflated ones). */
const writeZip = (files: { name: string; bytes: Uint8Array }[]) => concatChunks(zipChunks(files.map((f) => ({ name: f.name, data: f.bytes }))));

Deno.test("zip: reads Python zipfile's archive (stored + deflated entries) byte for byte; truncation and a flipped byte are errors naming the entry", async () => {
  const zip = await Deno.readFile(FIXTURE_ZIP);
  const entries = await readZipDirectory(bytesSource(zip), "fixture.zip");
  const files = entries.filter((e) => !e.name.endsWith("/"));
  assert.deepEqual(files.map((e) => [e.name, e.method]), [
    ["eval_bundle/core.yaml", 0], ["eval_bundle/eval_meta_data.csv", 8],
    ["eval_bundle/eval_data/toy/choice.jsonl", 8], ["eval_bundle/eval_data/toy/lm.jsonl", 8], ["eval_bundle/eval_data/toy/schema.jsonl", 8],
  ]);
  for (const e of files) assert.deepEqual(await readZipEntry(bytesSource(zip), e, "fixture.zip"), await Deno.readFile(`${FIXTURE_DIR}/${e.name}`));
  assert.equal(crc32(text("123456789")), 0xcbf43926); // the CRC-32 check value
  await assert.rejects(readZipDirectory(bytesSource(zip.slice(0, zip.length - 30)), "cut.zip"), /cut\.zip: not a readable zip archive \(no zip end record found/);
  const csv = files[1], bad = zip.slice();
  bad[csv.localHeaderOffset + 30 + csv.name.length + 5] ^= 0xff; // inside the deflated bytes
  await assert.rejects(readZipEntry(bytesSource(bad), csv, "bad.zip"), /bad\.zip: entry eval_bundle\/eval_meta_data\.csv (fails its CRC-32 check|does not inflate|has \d+ bytes)/);
  // Our writer's archives read back too (the malformed-bundle tests build theirs with it).
  const ours = bytesSource(writeZip([{ name: "a.txt", bytes: text("hello hello hello") }, { name: "b", bytes: text("x") }]));
  const oe = await readZipDirectory(ours, "ours.zip");
  assert.equal(new TextDecoder().decode(await readZipEntry(ours, oe[0], "ours.zip")), "hello hello hello");
});

Deno.test("core bundle: --download-bundle fetches, records the zip's SHA-256 and unpacks; the loader reads every task type's items exactly", async () => {
  await withDir(async (dir) => {
    const zip = await Deno.readFile(FIXTURE_ZIP);
    assert.equal(await findBundle(dir), null);
    await assert.rejects(loadCoreBundle(dir), /no eval bundle in .*deno task eval base --download-bundle.*karpathy-public\.s3\.us-west-2\.amazonaws\.com\/eval_bundle\.zip/s);
    const srv = serving(zip);
    const { root, sha256 } = await downloadBundle(dir, { ...quiet, fetch: srv.fetch });
    const want = [...new Uint8Array(await crypto.subtle.digest("SHA-256", zip))].map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(sha256, want);
    assert.equal((await Deno.readTextFile(`${dir}/eval_bundle.zip.sha256`)).split(" ")[0], want);
    assert.equal(root, `${dir}/eval_bundle`);

    const { tasks, sha256: recorded } = await loadCoreBundle(dir);
    assert.equal(recorded, want);
    assert.deepEqual(tasks.map((t) => t.meta), [
      { label: "toy_choice", type: "multiple_choice", numFewshot: 1, delimiter: " ", randomBaseline: 25 },
      { label: "toy_schema", type: "schema", numFewshot: 0, delimiter: "", randomBaseline: 50 },
      { label: "toy_lm", type: "language_modeling", numFewshot: 2, delimiter: " ", randomBaseline: 0 },
    ]);
    assert.deepEqual(tasks[0].items[2], { query: "3.", choices: ["abc", "azz"], gold: 1 });
    assert.deepEqual(tasks[1].items.map((i) => (i as { gold: number }).gold), [1, 1, 0, 1]); // the blank line skipped
    assert.deepEqual(tasks[2].items[2], { context: "  mnoz ", continuation: "ab" });
    assert.deepEqual((await loadCoreBundle(dir, ["toy_lm"])).tasks.map((t) => t.meta.label), ["toy_lm"]);
    await assert.rejects(loadCoreBundle(dir, ["nope"]), /no CORE task nope in .*its tasks: toy_choice, toy_schema, toy_lm/);

    // A second run finds the zip and the unpacked copy whole: nothing fetched, nothing unpacked.
    await downloadBundle(dir, { ...quiet, fetch: srv.fetch });
    assert.equal(srv.calls, 1);
    // An unpacked file that changed is caught when read (size and CRC-32 from the manifest).
    await Deno.writeTextFile(`${root}/eval_data/toy/lm.jsonl`, (await Deno.readTextFile(`${root}/eval_data/toy/lm.jsonl`)).replace("abd", "abe"));
    await assert.rejects(loadCoreBundle(dir), /eval_data\/toy\/lm\.jsonl: does not match the manifest's size and CRC-32; the unpacked bundle is damaged: delete .* and run 'deno task eval base --download-bundle --bundle-dir \S+' to unpack it again/);
    await downloadBundle(dir, { ...quiet, fetch: srv.fetch }); // re-unpacks from the cached zip
    assert.equal((await loadCoreBundle(dir)).tasks.length, 3);
    // A cached zip that no longer matches the recorded hash is refused.
    const other = writeZip([{ name: "core.yaml", bytes: text("icl_tasks: []\n") }]);
    await Deno.writeFile(`${dir}/eval_bundle.zip`, other);
    await assert.rejects(downloadBundle(dir, { ...quiet, fetch: srv.fetch }), /eval_bundle\.zip has SHA-256 [0-9a-f]{64}, but .*eval_bundle\.zip\.sha256 records [0-9a-f]{64} from its first download/);
  });
});

Deno.test("core bundle: an unpacked copy holding core.yaml is read as it is; a download that is no zip, or has no core.yaml, is refused", async () => {
  const unpacked = await loadCoreBundle(`${FIXTURE_DIR}/eval_bundle`);
  assert.equal(unpacked.sha256, null);
  assert.deepEqual(unpacked.tasks.map((t) => t.items.length), [3, 4, 5]);
  await withDir(async (dir) => {
    await assert.rejects(downloadBundle(dir, { ...quiet, fetch: serving(text("<html>not here</html>")).fetch }), /not a readable zip archive/);
    const noYaml = writeZip([{ name: "eval_bundle/eval_meta_data.csv", bytes: text("Eval Task,Random baseline\n") }]);
    await assert.rejects(downloadBundle(`${dir}/b`, { ...quiet, fetch: serving(noYaml).fetch }), /the archive has no core\.yaml, so it is not the CORE eval bundle/);
  });
});

/** A bundle directory from file texts, loaded. */
async function loadFrom(files: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "core_bad_" });
  try {
    for (const [name, body] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${name}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(`${dir}/${name}`, body);
    }
    return await loadCoreBundle(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const YAML = "icl_tasks:\n- label: t\n  dataset_uri: t.jsonl\n  num_fewshot: [0]\n  icl_task_type: multiple_choice\n";
const CSV = "Eval Task,Random baseline\nt,25\n";
const MC = '{"query": "q", "choices": ["a", "b"], "gold": 1}\n';

Deno.test("core bundle: malformed files are errors naming the file, the line or field, and what to do", async () => {
  assert.equal((await loadFrom({ "core.yaml": YAML, "eval_meta_data.csv": CSV, "eval_data/t.jsonl": MC })).tasks[0].items.length, 1);
  const cases: [Record<string, string>, RegExp][] = [
    [{ "core.yaml": YAML, "eval_meta_data.csv": "Eval Task,Random baseline\nother,25\n", "eval_data/t.jsonl": MC }, /eval_meta_data\.csv: no row for task t \(its "Random baseline" centres the accuracy\); replace .* with a good copy/],
    [{ "core.yaml": YAML, "eval_meta_data.csv": "Task,Baseline\nt,25\n", "eval_data/t.jsonl": MC }, /eval_meta_data\.csv: the header needs columns "Eval Task" and "Random baseline"/],
    [{ "core.yaml": YAML, "eval_meta_data.csv": "Eval Task,Random baseline\nt,high\n", "eval_data/t.jsonl": MC }, /eval_meta_data\.csv line 2: task t has Random baseline "high"/],
    [{ "core.yaml": YAML, "eval_meta_data.csv": CSV, "eval_data/t.jsonl": MC + '{"query": "q", "choices": ["a"\n' }, /eval_data\/t\.jsonl line 2: not valid JSON/],
    [{ "core.yaml": YAML, "eval_meta_data.csv": CSV, "eval_data/t.jsonl": '{"query": "q", "gold": 0}\n' }, /t\.jsonl line 1: field choices is missing or not a non-empty list of strings \(a multiple_choice item\)/],
    [{ "core.yaml": YAML, "eval_meta_data.csv": CSV, "eval_data/t.jsonl": '{"query": "q", "choices": ["a", "b"], "gold": 2}\n' }, /t\.jsonl line 1: field gold must be an index into the 2 options, got 2/],
    [{ "core.yaml": YAML, "eval_meta_data.csv": CSV }, /eval_data\/t\.jsonl: missing \(task t in .*core\.yaml\)/],
    [{ "core.yaml": YAML.replace("multiple_choice", "generation_task_with_answers"), "eval_meta_data.csv": CSV, "eval_data/t.jsonl": MC }, /core\.yaml line 2 \(task 1\): task t has icl_task_type generation_task_with_answers; CORE knows multiple_choice, schema, language_modeling/],
    [{ "core.yaml": YAML.replace("  dataset_uri: t.jsonl\n", ""), "eval_meta_data.csv": CSV }, /core\.yaml line 2 \(task 1\): field dataset_uri is missing or not a string/],
    [{ "core.yaml": YAML.replace("[0]", "[]"), "eval_meta_data.csv": CSV }, /task t needs num_fewshot/],
    [{ "core.yaml": "tasks: []\n", "eval_meta_data.csv": CSV }, /core\.yaml: no icl_tasks list/],
    [{ "eval_meta_data.csv": CSV }, /no eval bundle in/],
  ];
  for (const [files, re] of cases) await assert.rejects(loadFrom(files), re);
});

Deno.test("core.yaml subset: block and flow lists, quoted scalars with escapes, comments; unsupported YAML is an error with its line", () => {
  const { value } = parseYamlSubset([
    "# comment", "icl_tasks:", "  - label: 'it''s'   # trailing comment", "    continuation_delimiter: \"\\nAnswer: \"",
    "    num_fewshot:", "      - 10", "    x: [1, 'a,b', \"c\"]", "    flag: true", "  -", "    label: second", "other: 3.5",
  ].join("\n"), "y");
  assert.deepEqual(value, {
    icl_tasks: [{ label: "it's", continuation_delimiter: "\nAnswer: ", num_fewshot: [10], x: [1, "a,b", "c"], flag: true }, { label: "second" }],
    other: 3.5,
  });
  assert.throws(() => parseYamlSubset("a: |\n  text\n", "y.yaml"), /y\.yaml line 1: YAML feature not supported here: \|/);
  assert.throws(() => parseYamlSubset("a: 1\n    b: 2\n", "y.yaml"), /y\.yaml line 2: unexpected indentation/);
  assert.throws(() => parseYamlSubset("a: 1\na: 2\n", "y.yaml"), /line 2: key a appears twice/);
  assert.throws(() => parseYamlSubset("a: \"open\n", "y.yaml"), /line 1: a "string" does not close on its line/);
  assert.deepEqual(parseCoreYaml("icl_tasks:\n- label: n\n  dataset_uri: n.jsonl\n  num_fewshot: 3\n  icl_task_type: schema\n", "c", "fix")[0].meta,
    { label: "n", type: "schema", numFewshot: 3, delimiter: " " });
  // CSV: quoted commas, doubled quotes and newlines inside quotes; rows keep their first line.
  assert.deepEqual(parseCsv('a,b\r\n"x, ""y""",2\n"multi\nline",3\n', "c"), [
    { line: 1, cells: ["a", "b"] }, { line: 2, cells: ['x, "y"', "2"] }, { line: 3, cells: ["multi\nline", "3"] },
  ]);
  assert.deepEqual([...parseRandomBaselines(Deno.readTextFileSync(`${FIXTURE_DIR}/eval_bundle/eval_meta_data.csv`), "m", "fix")],
    [["toy_choice", 25], ["toy_schema", 50], ["toy_lm", 0], ["not_in_yaml", 10]]);
});
