// Property tests over many random strings: decode(encode(s)) == s, chunks tile the text,
// ordinary text never yields a special token, and our encoding equals tiktoken's
// algorithm (js-tiktoken loaded with our exported ranks), which is what the reference runs.
import assert from "node:assert/strict";
import { Tiktoken } from "js-tiktoken/lite";
import { SPECIAL_TOKENS, Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { SPLIT_PATTERN_JS, splitChunks } from "../../src/tokenizer/regex.ts";
import { SAMPLE_TEXTS } from "../../src/tokenizer/sample_texts.ts";
import { Rng } from "../../src/util/rng.ts";

const rng = new Rng(2024);
const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)];

// Code point pools: ASCII, Latin-1, Greek/Cyrillic, CJK, Hangul, combining marks,
// astral emoji and math letters, digits of several scripts, Unicode whitespace.
const RANGES: [number, number][] = [
  [0x20, 0x7e], [0xa0, 0xff], [0x370, 0x3ff], [0x400, 0x4ff], [0x4e00, 0x4fff], [0xac00, 0xad00],
  [0x300, 0x36f], [0x1f300, 0x1f64f], [0x1d400, 0x1d4ff], [0x660, 0x669], [0x966, 0x96f], [0x0, 0x1f],
];
const WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b", "\u000c"];

function randomUnicode(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pick(RANGES);
    s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
  }
  return s;
}

/** Random bytes read as UTF-8 with replacement: U+FFFD and stray valid sequences mixed. */
function byteMixture(n: number): string {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.uniform();
    // valid lead bytes, continuation bytes, ASCII, and bytes never valid in UTF-8
    bytes[i] = r < 0.3 ? 0x20 + rng.int(95) : r < 0.5 ? 0x80 + rng.int(64) : r < 0.8 ? 0xc2 + rng.int(51) : 0xf5 + rng.int(11);
  }
  return new TextDecoder().decode(bytes);
}

function whitespaceRuns(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += rng.uniform() < 0.7 ? pick(WHITESPACE).repeat(1 + rng.int(4)) : pick(["a", "word", ".", "1"]);
  return s;
}

function digits(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += rng.uniform() < 0.8 ? String(rng.int(10)) : pick([" ", ",", ".", "-", "٣", "½", "x"]);
  return s;
}

/** Strings that contain special-token spellings among other text. */
function withSpecialSpellings(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += rng.uniform() < 0.3 ? pick(SPECIAL_TOKENS) : pick(["hi", " ", "<|", "|>", "<|bos", "\n"]);
  return s;
}

const GENERATORS: [string, (n: number) => string][] = [
  ["unicode", randomUnicode],
  ["byte mixture", byteMixture],
  ["whitespace", whitespaceRuns],
  ["digits", digits],
  ["special spellings", withSpecialSpellings],
];

const STRINGS: string[] = [];
for (let i = 0; i < 1200; i++) STRINGS.push(GENERATORS[i % GENERATORS.length][1](1 + rng.int(40)));
// long single chunks take the encoder's heap path (>= 48 bytes)
STRINGS.push(" ".repeat(300), "a".repeat(500), "ab".repeat(200) + "\n", "é".repeat(100), "1".repeat(99), "=".repeat(257));

// A tokenizer trained on text that shares pieces with the random strings.
const TRAIN_TEXTS = [...Object.values(SAMPLE_TEXTS), ...STRINGS.slice(0, 600)];
const tok = Tokenizer.train(TRAIN_TEXTS, 1200);
const FIRST_SPECIAL = tok.specialId("<|bos|>");

Deno.test(`roundtrip: decode(encode(s)) == s for ${STRINGS.length} random strings`, () => {
  assert.ok(STRINGS.length >= 1000);
  for (const s of STRINGS) {
    const ids = tok.encodeOrdinary(s);
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
    assert.deepEqual(tok.decodeBytes(ids), new TextEncoder().encode(s));
  }
});

Deno.test("roundtrip: lone surrogates encode as U+FFFD, like TextEncoder", () => {
  for (const s of ["\ud800", "a\udc00b", "x\ud83d", "\udfff\ud800 ok"]) {
    assert.equal(tok.decode(tok.encodeOrdinary(s)), s.toWellFormed());
  }
});

Deno.test("roundtrip: chunks tile every string", () => {
  for (const s of STRINGS) assert.equal(splitChunks(s).join(""), s);
});

Deno.test("roundtrip: ordinary text never yields a special token, even when it spells one", () => {
  for (const s of STRINGS) for (const id of tok.encodeOrdinary(s)) assert.ok(id >= 0 && id < FIRST_SPECIAL, `${id} in ${JSON.stringify(s)}`);
  // encode() without allowedSpecial is ordinary encoding too
  assert.deepEqual(tok.encode("<|bos|>hi"), tok.encodeOrdinary("<|bos|>hi"));
});

Deno.test("roundtrip: allowed special tokens are recognized and decode back", () => {
  const text = "<|user_start|>hi<|user_end|><|bos|>";
  const ids = tok.encode(text, { allowedSpecial: "all" });
  assert.deepEqual(ids, [tok.specialId("<|user_start|>"), ...tok.encodeOrdinary("hi"), tok.specialId("<|user_end|>"), tok.bosId]);
  assert.equal(tok.decode(ids), text);
  // only the listed ones
  const some = tok.encode(text, { allowedSpecial: ["<|bos|>"] });
  assert.deepEqual(some, [...tok.encodeOrdinary("<|user_start|>hi<|user_end|>"), tok.bosId]);
  assert.throws(() => tok.encode("x", { allowedSpecial: ["<|nope|>"] }), /unknown special token "<\|nope\|>"/);
  // prepend / append like nanochat's encode(text, prepend=..., append=...)
  assert.deepEqual(tok.encode("hi", { prepend: "<|bos|>", append: tok.specialId("<|assistant_end|>") }), [
    tok.bosId,
    ...tok.encodeOrdinary("hi"),
    tok.specialId("<|assistant_end|>"),
  ]);
  for (const s of STRINGS.filter((x) => x.includes("<|"))) assert.equal(tok.decode(tok.encode(s, { allowedSpecial: "all" })), s);
});

Deno.test("roundtrip: encoding equals tiktoken's algorithm on our ranks (js-tiktoken)", () => {
  const ranks = tok.toTiktoken().trim().split("\n").map((line) => line.split(" ")[0]);
  const specials = Object.fromEntries(tok.specialTokens.map((s) => [s, tok.specialId(s)]));
  const tt = new Tiktoken({ pat_str: SPLIT_PATTERN_JS, special_tokens: specials, bpe_ranks: `! 0 ${ranks.join(" ")}` });
  // js-tiktoken is slow (no cache, quadratic merges): check a few hundred strings.
  const sample = [...STRINGS.filter((_, i) => i % 4 === 0), ...STRINGS.slice(-6), ...Object.values(SAMPLE_TEXTS)];
  for (const s of sample) assert.deepEqual(tok.encodeOrdinary(s), tt.encode(s, [], []), JSON.stringify(s.slice(0, 60)));
});

Deno.test("roundtrip: a cached chunk encodes the same as a fresh one", () => {
  const fresh = Tokenizer.fromJSON(tok.toJSON());
  const text = STRINGS.slice(0, 200).join("");
  const once = fresh.encodeOrdinary(text);
  assert.deepEqual(fresh.encodeOrdinary(text), once);
  assert.deepEqual(tok.encodeOrdinary(text), once);
});
