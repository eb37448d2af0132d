// The JavaScript split regex against chunkings worked out by hand from the reference
// pattern's semantics (fancy-regex: possessive quantifiers, Unicode White_Space \s,
// case-insensitive contractions).
import assert from "node:assert/strict";
import { SPLIT_PATTERN, splitChunks } from "../../src/tokenizer/regex.ts";

const cases: [string, string, string[]][] = [
  // contractions: the first alternative wins, case-insensitively, even at a word's start
  ["contractions", "I'm he's they'LL we've you'RE it'd don't", ["I", "'m", " he", "'s", " they", "'LL", " we", "'ve", " you", "'RE", " it", "'d", " don", "'t"]],
  ["contraction before letters", "'tis 'twas", ["'t", "is", " '", "twas"]],
  ["apostrophe + other letters", "o'clock", ["o", "'clock"]],
  // (?i)s also matches U+017F LATIN SMALL LETTER LONG S under Unicode case folding
  ["long s", "'ſt", ["'ſ", "t"]],
  // numbers: at most two digits per chunk, any script's digits
  ["digits in pairs", "12345", ["12", "34", "5"]],
  ["year after space", "in 2024!", ["in", " ", "20", "24", "!"]],
  ["letters then digits", "x123y", ["x", "12", "3", "y"]],
  ["arabic-indic digits", "٣٤٥", ["٣٤", "٥"]],
  ["vulgar fraction is \\p{N}", "½½½", ["½½", "½"]],
  // whitespace: runs before a newline end with it; a run before a word leaves one space
  ["whitespace before newline", "a  \n\nb", ["a", "  \n\n", "b"]],
  ["spaces before a word", "hello   world", ["hello", "  ", " world"]],
  ["trailing spaces", "end   ", ["end", "   "]],
  ["tabs and CRLF", "x\t\r\n\ty", ["x", "\t\r\n", "\ty"]],
  ["leading newline then text", "\n\nHi", ["\n\n", "Hi"]],
  // punctuation: one optional space, the run, then any newlines
  ["punctuation run", "wait...!? ok", ["wait", "...!?", " ok"]],
  ["spaced punctuation", "foo ,,, bar", ["foo", " ,,,", " bar"]],
  ["punctuation swallows newlines", "end.)\n\nNext", ["end", ".)\n\n", "Next"]],
  ["special token text is plain text", "<|bos|>", ["<|", "bos", "|>"]],
  // one non-letter may prefix a word, so after a space the symbol goes with the space
  ["non-letter prefix of a word", "$foo #bar", ["$foo", " #", "bar"]],
  // Unicode letters, marks and symbols
  ["accented words", "naïve café", ["naïve", " café"]],
  ["CJK run", "日本語テキスト。", ["日本語テキスト", "。"]],
  ["emoji with modifier", "hi 👋🏽 there", ["hi", " 👋🏽", " there"]],
  ["combining mark after letter", "e\u0301x", ["e", "\u0301x"]],
  // \s is Unicode White_Space (as in Rust), not JavaScript's \s
  ["NEL is whitespace", "\u0085!", ["\u0085", "!"]],
  ["BOM is not whitespace", "\uFEFF!", ["\uFEFF!"]],
  ["NBSP and ideographic space", "a\u00a0\u3000b", ["a", "\u00a0", "\u3000b"]],
];

for (const [name, text, chunks] of cases) {
  Deno.test(`split regex: ${name}`, () => {
    assert.deepEqual(splitChunks(text), chunks);
    assert.equal(chunks.join(""), text);
  });
}

Deno.test("split regex: the recorded pattern is the reference's, byte for byte", () => {
  assert.equal(
    SPLIT_PATTERN,
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,2}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
  );
});

Deno.test("split regex: lone surrogates are chunked, not skipped", () => {
  const text = "a\ud800b \udc00\ud83d";
  assert.equal(splitChunks(text).join(""), text);
});
