// The dataset tasks on small hand-written fixtures in the real files' layout: parquet
// written like the Hub's (nested columns, several row groups), read back through
// loadDatasetRows from a temp data dir, turned into conversations, scored. Also: clear
// errors for damaged data, the offline message, and downloading a task file from a
// local server through the shard downloader's machinery.
import assert from "node:assert/strict";
import { parquetMetadata } from "hyparquet";
import { ARC } from "../../tasks/arc.ts";
import { MMLU } from "../../tasks/mmlu.ts";
import { GSM8K, gsm8kParts } from "../../tasks/gsm8k.ts";
import { SmolTalk } from "../../tasks/smoltalk.ts";
import { CustomJSON } from "../../tasks/customjson.ts";
import { extractHashAnswer, TaskError } from "../../tasks/common.ts";
import { DATASETS, datasetFiles, loadDataset, loadDatasetRows } from "../../tasks/deno_datasets.ts";
import { OfflineError } from "../../src/data/deno_download.ts";
import { Progress } from "../../src/data/deno_progress.ts";
import { withTempDir } from "../fixtures/data/helpers.ts";
import { ARC_ROWS, GSM8K_ROWS, IDENTITY_JSONL, MMLU_ROWS, SCHEMAS, SMOLTALK_ROWS, writeDataset, writeRows } from "../fixtures/tasks/helpers.ts";

const MC_TAIL = "\n\nRespond only with the letter of the correct answer.";
/** The error is a TaskError whose message (without the "TaskError: " prefix) matches. */
const isTaskError = (re: RegExp) => (e: unknown) => e instanceof TaskError && re.test(e.message) ? true : assert.fail(`${re} does not match ${e}`);
const rejectsWith = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, isTaskError(re));
const throwsWith = (fn: () => unknown, re: RegExp) => assert.throws(fn, isTaskError(re));

Deno.test("tasks: the dataset table points at the Hub's exact parquet files and caches them under data/tasks/<repo>/<path>", () => {
  assert.deepEqual(datasetFiles("arc-easy-train"), [{
    file: "ARC-Easy/train-00000-of-00001.parquet",
    url: "https://huggingface.co/datasets/allenai/ai2_arc/resolve/main/ARC-Easy/train-00000-of-00001.parquet",
    path: "data/tasks/allenai/ai2_arc/ARC-Easy/train-00000-of-00001.parquet",
  }]);
  assert.equal(datasetFiles("humaneval")[0].url, "https://huggingface.co/datasets/openai/openai_humaneval/resolve/main/openai_humaneval/test-00000-of-00001.parquet");
  assert.equal(datasetFiles("mmlu-auxiliary-train", { dataDir: "/d/" })[0].path, "/d/cais/mmlu/auxiliary_train/train-00000-of-00001.parquet");
  assert.deepEqual(datasetFiles("smoltalk-train").map((f) => f.file), [0, 1, 2, 3].map((i) => `data/train-0000${i}-of-00004.parquet`));
  for (const name of Object.keys(DATASETS)) assert.match(datasetFiles(name)[0].url, /^https:\/\/huggingface\.co\/datasets\/[^/]+\/[^/]+\/resolve\/main\/.+\.parquet$/);
  assert.throws(() => datasetFiles("arc"), /unknown task dataset 'arc'; the known ones are arc-easy-train, .*humaneval/);
});

Deno.test("tasks: ARC rows (struct of lists, several row groups) become multiple-choice conversations with the data's labels", async () => {
  await withTempDir(async (dir) => {
    const [path] = await writeDataset(dir, "arc-easy-train", [writeRows(SCHEMAS.arc, ARC_ROWS)]);
    assert.equal(parquetMetadata((await Deno.readFile(path)).buffer).row_groups.length, 2, "the fixture spans row groups");
    const rows = await loadDatasetRows("arc-easy-train", { dataDir: dir });
    assert.deepEqual(rows, ARC_ROWS);
    const arc = new ARC(rows, { source: path, name: "ARC-Easy" });
    assert.equal(arc.evalType, "categorical");
    assert.equal(arc.length, 3);
    const first = arc.example(0);
    assert.deepEqual(first, {
      messages: [
        {
          role: "user",
          content: "Multiple Choice question: An astronomer observes that a planet rotates faster after a meteorite impact. " +
            "Which is the most likely effect of this increase in rotation?\n- Planetary density will decrease.=A\n- Planetary years will become longer.=B\n" +
            "- Planetary days will become shorter.=C\n- Planetary gravity will become stronger.=D" + MC_TAIL,
        },
        { role: "assistant", content: "C" },
      ],
      letters: ["A", "B", "C", "D"],
    });
    const numeric = arc.example(1);
    assert.deepEqual(numeric.letters, ["1", "2", "3", "4"]);
    assert.equal(numeric.messages[0].content, "Multiple Choice question: Which object is the best conductor of electricity?\n- a wax crayon=1\n- a plastic spoon=2\n- a rubber eraser=3\n- an iron nail=4" + MC_TAIL);
    assert.deepEqual(numeric.messages[1], { role: "assistant", content: "4" });
    assert.equal(arc.evaluate(first, "C"), true);
    assert.equal(arc.evaluate(first, " C\n"), true);
    assert.equal(arc.evaluate(first, "B"), false);
    assert.equal(arc.evaluate(first, "C) days"), false);
    assert.equal(arc.evaluate(numeric, "4"), true);
    assert.equal(await arc.reward(numeric, "D"), 0);
    assert.deepEqual(arc.example(2).letters, ["A", "B", "C"]);
  });
});

Deno.test("tasks: MMLU rows (list column, int64 answer) and auxiliary_train rows (one struct column `train`) give the same conversations", async () => {
  await withTempDir(async (dir) => {
    const [path] = await writeDataset(dir, "mmlu-test", [writeRows(SCHEMAS.mmlu, MMLU_ROWS)]);
    await writeDataset(dir, "mmlu-auxiliary-train", [writeRows(SCHEMAS.mmluAuxiliary, MMLU_ROWS.map((train) => ({ train })))]);
    const mmlu = new MMLU(await loadDatasetRows("mmlu-test", { dataDir: dir }), { source: path });
    const aux = new MMLU(await loadDatasetRows("mmlu-auxiliary-train", { dataDir: dir }));
    assert.equal(mmlu.length, 4);
    const ex = mmlu.example(1);
    assert.deepEqual(ex, {
      messages: [
        {
          role: "user",
          content: "Multiple Choice question: What is the embryological origin of the hyoid bone?\n- The first pharyngeal arch=A\n" +
            "- The first and second pharyngeal arches=B\n- The second pharyngeal arch=C\n- The second and third pharyngeal arches=D" + MC_TAIL,
        },
        { role: "assistant", content: "D" },
      ],
      subject: "anatomy",
      letters: ["A", "B", "C", "D"],
    });
    for (let i = 0; i < 4; i++) assert.deepEqual(aux.example(i), mmlu.example(i));
    assert.deepEqual(mmlu.example(3).messages[1], { role: "assistant", content: "A" });
    assert.equal(mmlu.evaluate(ex, "D"), true);
    assert.equal(mmlu.evaluate(ex, "A"), false);
    assert.equal(mmlu.evaluate(ex, "d"), false);
  });
});

Deno.test("tasks: GSM8K answers become text / python / python_output parts; scoring compares the #### numbers without commas", async () => {
  await withTempDir(async (dir) => {
    await writeDataset(dir, "gsm8k-train", [writeRows(SCHEMAS.gsm8k, GSM8K_ROWS)]);
    const gsm = new GSM8K(await loadDatasetRows("gsm8k-train", { dataDir: dir }));
    assert.equal(gsm.evalType, "generative");
    const ex = gsm.example(0);
    assert.deepEqual(ex, {
      messages: [
        { role: "user", content: GSM8K_ROWS[0].question },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Natalia sold 48/2 = " },
            { type: "python", text: "48/2" },
            { type: "python_output", text: "24" },
            { type: "text", text: "24 clips in May.\nNatalia sold 48+24 = " },
            { type: "python", text: "48+24" },
            { type: "python_output", text: "72" },
            { type: "text", text: "72 clips altogether in April and May.\n#### 72" },
          ],
        },
      ],
    });
    assert.deepEqual(gsm8kParts("$<<12/60=0.2>><<0.2*50=10>>10\n#### 10"), [
      { type: "text", text: "$" },
      { type: "python", text: "12/60" },
      { type: "python_output", text: "0.2" },
      { type: "python", text: "0.2*50" },
      { type: "python_output", text: "10" },
      { type: "text", text: "10\n#### 10" },
    ]);
    assert.deepEqual(gsm8kParts("<<a==b>>"), [{ type: "python", text: "a=" }, { type: "python_output", text: "b" }], "split at the last '='");
    assert.equal(gsm.evaluate(ex, "She sold 24 in May, so 48 + 24 = 72.\n#### 72"), true);
    assert.equal(gsm.evaluate(ex, "#### 71"), false);
    assert.equal(gsm.evaluate(ex, "72"), false, "no #### marker: no answer");
    assert.equal(await gsm.reward(ex, "#### 72"), 1);
    assert.equal(await gsm.reward(ex, "#### 720"), 0);
    const seats = gsm.example(2);
    assert.equal(gsm.evaluate(seats, "#### 4800"), true, "the reference's '#### 4,800' loses its comma");
    assert.equal(gsm.evaluate(seats, "So 4,800 seats.\n#### 4,800"), true);
    assert.equal(gsm.evaluate(seats, "#### 4.800"), false);
    assert.equal(extractHashAnswer("#### 1,234,567"), "1234567");
    assert.equal(extractHashAnswer("#### -3,5"), "-35");
  });
});

Deno.test("tasks: SmolTalk rows (list of {content, role} structs) are the conversations as they are, system message included", async () => {
  await withTempDir(async (dir) => {
    await writeDataset(dir, "smoltalk-test", [writeRows(SCHEMAS.smoltalk, SMOLTALK_ROWS)]);
    const talk = new SmolTalk(await loadDatasetRows("smoltalk-test", { dataDir: dir }));
    assert.equal(talk.length, 3);
    assert.deepEqual(talk.example(1), {
      messages: [
        { role: "system", content: "You are a concise assistant." },
        { role: "user", content: "What is 2+2?" },
        { role: "assistant", content: "4." },
        { role: "user", content: "And doubled?" },
        { role: "assistant", content: "8." },
      ],
    });
    assert.deepEqual(talk.example(0).messages[0], { role: "user", content: "Hi! Can you suggest a name for a grey cat?" });
    assert.throws(() => talk.evaluate(talk.example(0), "x"), /SmolTalk is a training task/);
  });
});

Deno.test("tasks: CustomJSON reads a JSONL file of message lists, blank lines skipped", async () => {
  const task = new CustomJSON(await Deno.readTextFile(IDENTITY_JSONL), { source: IDENTITY_JSONL });
  assert.equal(task.length, 2);
  assert.deepEqual(task.example(0), {
    messages: [{ role: "user", content: "Who are you?" }, { role: "assistant", content: "I am nanochat, a small language model." }],
  });
  assert.deepEqual(task.example(1).messages.at(-1), { role: "assistant", content: "Du texte du web d'abord, puis des conversations — étape par étape." });
  const good = '[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]';
  const bad = (text: string, re: RegExp) => throwsWith(() => new CustomJSON(text, { source: "id.jsonl" }), re);
  bad(`${good}\n[{"role":"user","content":"a"},`, /^id\.jsonl line 2: not valid JSON \(.*\); each line must be one JSON array of messages/);
  bad(`${good}\n\n{"role":"user","content":"a"}`, /^id\.jsonl line 3: is a JSON object, not an array/);
  bad(`[{"role":"user","content":"a"},{"role":"user","content":"b"}]`, /^id\.jsonl line 1: message 1 has role 'user', expected 'assistant' \(messages alternate user, assistant/);
  bad(`[{"role":"system","content":"s"},{"role":"user","content":"a"},{"role":"assistant","content":"b"}]`, /line 1: message 0 has role 'system', expected 'user'/);
  bad(`[{"role":"user","content":"a"},{"role":"assistant","content":["b"]}]`, /line 1: message 1 \(assistant\) has content a list, expected a string/);
  bad(`[{"content":"a"},{"role":"assistant","content":"b"}]`, /line 1: message 0 has no 'role', expected 'user'/);
  bad(`[{"role":"user","content":"a"}]`, /line 1: has 1 user\/assistant message, needs at least 2/);
  bad("\n\n", /^id\.jsonl: has no conversations/);
});

Deno.test("tasks: damaged data is rejected naming the file, the row and the field", async () => {
  await withTempDir(async (dir) => {
    // A file without a column the task needs: refused when read, with the fix.
    const noKey = SCHEMAS.arc.filter((c) => c.element.name !== "answerKey");
    const [arcPath] = await writeDataset(dir, "arc-challenge-test", [writeRows(noKey, ARC_ROWS)]);
    await rejectsWith(
      loadDatasetRows("arc-challenge-test", { dataDir: dir }),
      new RegExp(`^${arcPath}: has no column 'answerKey' \\(it has id, question, choices\\); is it the right file\\? delete it and run 'deno task data tasks --download arc-challenge-test'$`),
    );
    // Not parquet at all.
    const [gsmPath] = await writeDataset(dir, "gsm8k-test", [new TextEncoder().encode("<html>Too Many Requests</html>")]);
    await rejectsWith(loadDatasetRows("gsm8k-test", { dataDir: dir }), new RegExp(`^${gsmPath}: not a readable parquet file \\(.*\\); delete it and run 'deno task data tasks --download gsm8k-test'`));

    // Wrong types inside a row: the task names the row and the field.
    const mmluText = SCHEMAS.mmlu.map((c) => c.element.name === "answer" ? { element: { ...c.element, type: "BYTE_ARRAY" as const, converted_type: "UTF8" as const } } : c);
    const [mmluPath] = await writeDataset(dir, "mmlu-test", [writeRows(mmluText, MMLU_ROWS.map((r) => ({ ...r, answer: "BADC"[Number(r.answer)] })))]);
    const mmluRows = await loadDatasetRows("mmlu-test", { dataDir: dir });
    assert.throws(() => new MMLU(mmluRows, { source: mmluPath }), (e: unknown) =>
      e instanceof TaskError && e.message === `${mmluPath} row 0: field 'answer' must be an integer 0-3 (the index of the right choice), got "A"; is it a cais/mmlu parquet file? Delete it and download it again`);
    throwsWith(() => new MMLU([{ train: { ...MMLU_ROWS[0], choices: ["x", "y"] } }], { source: "aux.parquet" }), /^aux\.parquet row 0: field 'train\.choices' has 2 choices, MMLU questions have 4/);
    throwsWith(() => new ARC([{ ...ARC_ROWS[0], answerKey: "E" }]), /^ARC row 0: field 'answerKey' is 'E', not one of the labels A, B, C, D/);
    throwsWith(() => new ARC([ARC_ROWS[1], { ...ARC_ROWS[0], choices: { text: ["a", "b"], label: "AB" } }], { source: "f.parquet" }), /^f\.parquet row 1: field 'choices\.label' must be a list of strings, got string/);
    throwsWith(() => new GSM8K([{ question: "q", answer: "It is 5." }], { source: "g.parquet" }), /^g\.parquet row 0: field 'answer' has no final '#### <number>' line/);
    throwsWith(() => new GSM8K([{ question: 7, answer: "#### 7" }]), /^GSM8K row 0: field 'question' must be a string, got number/);

    // A non-alternating SmolTalk row in the third of four train files: named by file and row within it.
    const files = [0, 1, 2, 3].map((k) => writeRows(SCHEMAS.smoltalk, k === 2 ? [SMOLTALK_ROWS[0], { ...SMOLTALK_ROWS[2], messages: [SMOLTALK_ROWS[2].messages[0], SMOLTALK_ROWS[2].messages[0]] }] : SMOLTALK_ROWS));
    const paths = await writeDataset(dir, "smoltalk-train", files);
    const loaded = await loadDataset("smoltalk-train", { dataDir: dir });
    assert.equal(loaded.rows.length, 11);
    assert.equal(loaded.locate(7), `${paths[2]} row 1`);
    assert.throws(() => new SmolTalk(loaded.rows, { source: loaded.locate }), (e: unknown) =>
      e instanceof TaskError &&
      e.message === `${paths[2]} row 1: field 'messages': message 1 has role 'user', expected 'assistant' (messages alternate user, assistant, ... after an optional system message)`);
    throwsWith(() => new SmolTalk([{ text: "hello" }]), /^SmolTalk row 0: no field 'messages'/);
  });
});

Deno.test("tasks: a missing file without download is one line naming the file and the command that fetches it", async () => {
  await withTempDir(async (dir) => {
    await rejectsWith(
      loadDatasetRows("gsm8k-test", { dataDir: dir }),
      new RegExp(`^gsm8k-test: ${dir}/openai/gsm8k/main/test-00000-of-00001\\.parquet is missing; fetch it with 'deno task data tasks --download gsm8k-test' ` +
        `\\(from https://huggingface\\.co/datasets/openai/gsm8k/resolve/main/main/test-00000-of-00001\\.parquet\\)$`),
    );
    await writeDataset(dir, "smoltalk-train", [0, 1, 2, 3].map(() => writeRows(SCHEMAS.smoltalk, SMOLTALK_ROWS)));
    await Deno.remove(datasetFiles("smoltalk-train", { dataDir: dir })[1].path);
    await rejectsWith(loadDatasetRows("smoltalk-train", { dataDir: dir }), /^smoltalk-train: .*\/data\/train-00001-of-00004\.parquet is missing; fetch it with 'deno task data tasks --download smoltalk-train'/);
  });
});

Deno.test("tasks: download: fetched from a server with Range resume, verified, renamed into place; later loads fetch nothing", async () => {
  const body = writeRows(SCHEMAS.gsm8k, GSM8K_ROWS);
  const html = new TextEncoder().encode("<html>rate limited</html>".repeat(10));
  const log: { path: string; range: string | null }[] = [];
  let cut = true;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    const range = req.headers.get("range");
    log.push({ path, range });
    const file = path === "/openai/gsm8k/resolve/main/main/test-00000-of-00001.parquet" ? body : path.includes("/ARC-Easy/") ? html : null;
    if (!file) return new Response("not found", { status: 404 });
    const start = Number(range?.match(/^bytes=(\d+)-$/)?.[1] ?? 0);
    const part = file.slice(start);
    const headers: Record<string, string> = { "content-length": String(part.length) };
    if (range) headers["content-range"] = `bytes ${start}-${file.length - 1}/${file.length}`;
    const status = range ? 206 : 200;
    if (cut) {
      cut = false; // the first answer breaks off after half the bytes
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => c.enqueue(part.slice(0, part.length >> 1)),
        pull: (c) => new Promise((r) => setTimeout(r, 20)).then(() => c.close()),
      });
      return new Response(stream, { status, headers });
    }
    return new Response(part, { status, headers });
  });
  const baseUrl = `http://127.0.0.1:${server.addr.port}`;
  const quiet = () => new Progress(1, { write: () => {}, tty: false });
  const opts = (dir: string) => ({ dataDir: dir, baseUrl, download: true, backoffMs: 1, log: () => {}, progress: quiet() });
  try {
    await withTempDir(async (dir) => {
      const rows = await loadDatasetRows("gsm8k-test", opts(dir));
      assert.deepEqual(rows, GSM8K_ROWS);
      assert.deepEqual(log.map((e) => e.range), [null, `bytes=${body.length >> 1}-`], "the second try continues the partial file");
      const target = `${dir}/openai/gsm8k/main`;
      assert.deepEqual([...Deno.readDirSync(target)].map((e) => e.name), ["test-00000-of-00001.parquet"], "no .partial left");
      assert.deepEqual(await Deno.readFile(`${target}/test-00000-of-00001.parquet`), body);
      assert.equal((await loadDatasetRows("gsm8k-test", opts(dir))).length, 3);
      assert.equal(log.length, 2, "a cached file is not fetched again");
      await Deno.writeFile(`${target}/test-00000-of-00001.parquet`, body.slice(0, 100)); // truncated since
      assert.deepEqual(await loadDatasetRows("gsm8k-test", opts(dir)), GSM8K_ROWS);
      assert.deepEqual(log.slice(2).map((e) => e.range), [null], "a cached file that no longer verifies is fetched again");

      // A response that is not the parquet file fails verification on every try; 404 is not retried.
      await assert.rejects(loadDatasetRows("arc-easy-test", { ...opts(dir), tries: 2 }), /ARC-Easy\/test-00000-of-00001\.parquet: failed after 2 tries \(last error: .*not a readable parquet file/);
      assert.equal(await Deno.stat(`${dir}/allenai/ai2_arc/ARC-Easy/test-00000-of-00001.parquet`).catch(() => null), null, "nothing unverified is left in place");
      const before = log.length;
      await assert.rejects(loadDatasetRows("humaneval", opts(dir)), /openai_humaneval\/test-00000-of-00001\.parquet: HTTP 404/);
      assert.equal(log.length, before + 1);

      // Nobody listening: fails at once, saying where the file must go.
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      listener.close();
      const t0 = performance.now();
      await assert.rejects(
        loadDatasetRows("mmlu-dev", { ...opts(dir), baseUrl: `http://127.0.0.1:${port}` }),
        (e: unknown) => {
          assert.ok(e instanceof OfflineError);
          assert.match(e.message, new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port} \\(.*\\)\\. Without network access, fetch http://127\\.0\\.0\\.1:${port}/cais/mmlu/resolve/main/all/dev-00000-of-00001\\.parquet on another machine and copy it to ${dir}/cais/mmlu/all/dev-00000-of-00001\\.parquet$`));
          return true;
        },
      );
      assert.ok(performance.now() - t0 < 1500, "no backoff when the host is unreachable");
    });
  } finally {
    await server.shutdown();
  }
});
