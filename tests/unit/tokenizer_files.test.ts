// Verified tokenizer files: tokenizer.tiktoken and token_bytes.json are derived from
// tokenizer.json, and loading the directory checks both against it. Each file below is
// damaged the way it happens for real (a hand edit, a copy from another tokenizer, a cut
// or an extra line), and each is refused naming the file and `deno task tok files`, which
// writes them again so the directory loads.
import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { loadTokenizer, saveTokenizer, TOKEN_BYTES_JSON, TOKENIZER_TIKTOKEN } from "../../src/tokenizer/store.ts";
import { SAMPLE_TEXTS } from "../../src/tokenizer/sample_texts.ts";
import { denoFiles } from "../../src/io/deno_files.ts";
import { main as tokCli } from "../../src/cli/tok.ts";

const texts = Object.values(SAMPLE_TEXTS);
const tok = Tokenizer.train(texts, 700);
const other = Tokenizer.train(texts, 720); // the same data, more merges: the first 700 ranks agree

type Edit = { name: string; file: string; edit: (text: string) => string; says: RegExp };

const lines = (t: string) => t.split("\n");
const EDITS: Edit[] = [
  {
    name: "token_bytes.json of another tokenizer",
    file: TOKEN_BYTES_JSON,
    edit: () => other.tokenBytesJSON(),
    says: /it names tokenizer [0-9a-f]{12}…, this one is [0-9a-f]{12}…/,
  },
  {
    name: "one token's byte length edited",
    file: TOKEN_BYTES_JSON,
    edit: (t) => {
      const f = JSON.parse(t);
      f.token_bytes[400] += 1;
      return JSON.stringify(f);
    },
    says: /token 400 is \d+ bytes long, the file says \d+/,
  },
  {
    name: "the last entry cut",
    file: TOKEN_BYTES_JSON,
    edit: (t) => {
      const f = JSON.parse(t);
      f.token_bytes.pop();
      return JSON.stringify(f);
    },
    says: /it has 699 entries, the vocabulary has 700 tokens/,
  },
  {
    name: "a special token given bytes",
    file: TOKEN_BYTES_JSON,
    edit: (t) => {
      const f = JSON.parse(t);
      f.token_bytes[699] = 3;
      return JSON.stringify(f);
    },
    says: /token 699 is 0 bytes long, the file says 3/,
  },
  {
    name: "tiktoken ranks of another tokenizer (20 more merges)",
    file: TOKENIZER_TIKTOKEN,
    edit: () => other.toTiktoken(),
    says: /it has 711 ranks, the tokenizer has 691 mergeable tokens \(256 bytes \+ 435 merges\)/,
  },
  {
    name: "two tokens' ranks swapped",
    file: TOKENIZER_TIKTOKEN,
    edit: (t) => {
      const l = lines(t);
      const [a, b] = [l[300].split(" ")[0], l[301].split(" ")[0]];
      l[300] = `${b} 300`;
      l[301] = `${a} 301`;
      return l.join("\n");
    },
    says: /line 301 is ".* 300", but rank 300 is the token ".*" 300/,
  },
  {
    name: "one token's bytes edited",
    file: TOKENIZER_TIKTOKEN,
    edit: (t) => {
      const l = lines(t);
      l[500] = `${btoa("zz")} 500`;
      return l.join("\n");
    },
    says: new RegExp(`line 501 is "${btoa("zz")} 500", but rank 500 is the token "[^"]+" 500`),
  },
  {
    name: "the last rank cut",
    file: TOKENIZER_TIKTOKEN,
    edit: (t) => lines(t).filter((l) => l !== "").slice(0, -1).join("\n") + "\n",
    says: /it has 690 ranks, the tokenizer has 691 mergeable tokens/,
  },
];

Deno.test("tokenizer files: a derived file that does not match tokenizer.json is refused naming it and how to regenerate it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tok-files-" });
  try {
    assert.equal(tok.numMerges, 435, "the counts the messages below name");
    await saveTokenizer(denoFiles(), dir, tok);
    assert.equal((await loadTokenizer(denoFiles(), dir)).hash, tok.hash, "the files as written load");
    for (const e of EDITS) {
      const path = `${dir}/${e.file}`;
      const good = await Deno.readTextFile(path);
      await Deno.writeTextFile(path, e.edit(good));
      await assert.rejects(loadTokenizer(denoFiles(), dir), (err: Error) => {
        assert.ok(err.message.startsWith(`${path} does not belong to ${dir}/tokenizer.json: `), `${e.name}: ${err.message}`);
        assert.match(err.message, e.says, `${e.name}: ${err.message}`);
        assert.match(err.message, new RegExp(`regenerate it from tokenizer\\.json with 'deno task tok files --dir ${dir}'`), e.name);
        return true;
      }, e.name);
      // What the message says to run puts the directory right.
      const log = console.log;
      const said: string[] = [];
      console.log = (line: string) => said.push(line);
      try {
        await tokCli(["files", "--dir", dir]);
      } finally {
        console.log = log;
      }
      assert.match(said.join("\n"), new RegExp(`wrote ${dir}/${e.file} \\(tokenizer ${tok.hash.slice(0, 12)}…, 700 tokens\\)`));
      assert.equal(await Deno.readTextFile(path), good, `${e.name}: 'tok files' writes the file as training did`);
      await loadTokenizer(denoFiles(), dir);
    }
    // Missing derived files are not an error (nothing in the lab reads them); skipping the check skips reading them.
    await Deno.remove(`${dir}/${TOKENIZER_TIKTOKEN}`);
    await Deno.writeTextFile(`${dir}/${TOKEN_BYTES_JSON}`, other.tokenBytesJSON());
    await assert.rejects(loadTokenizer(denoFiles(), dir), /token_bytes\.json does not belong/);
    assert.equal((await loadTokenizer(denoFiles(), dir, { checkDerived: false })).hash, tok.hash);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
