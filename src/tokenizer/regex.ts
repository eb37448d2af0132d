// The pre-tokenizer: text is cut into chunks by nanochat's split regex, and BPE
// merges never cross a chunk boundary.
//
// The reference pattern (GPT-4's with `\p{N}{1,2}` instead of `{1,3}`) is written
// for Rust's fancy-regex:
//
//   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
//
// JavaScript has neither possessive quantifiers nor (portably) inline `(?i:)`, and its
// `\s` is not Unicode's White_Space. SPLIT_REGEX below is the same language, chunk for
// chunk, for these reasons:
//
// 1. `[^\r\n\p{L}\p{N}]?+\p{L}+` -> `[^\r\n\p{L}\p{N}]?\p{L}+`. A possessive `?+` only
//    differs from `?` when giving the optional character back would let the rest match.
//    The optional class excludes \p{L}, so after giving it back `\p{L}+` would have to
//    start on that same non-letter and fails anyway: both forms match the same strings.
// 2. ` ?[^\s\p{L}\p{N}]++[\r\n]*` -> ` ?[^\s\p{L}\p{N}]+[\r\n]*`. What follows the
//    run is `[\r\n]*`, which cannot fail, and it is the end of its alternative, so a
//    greedy run is never asked to backtrack: it keeps the whole run, like `++`.
// 3. `(?i:[sdmt]|ll|ve|re)` -> explicit case classes. Unicode simple case folding (which
//    the Rust regex crate applies under (?i)) also folds U+017F LATIN SMALL LETTER LONG S
//    to `s`, so `'ſ` is a contraction there too; no other letter here has an extra fold.
// 4. `\s` / `\S` -> `\p{White_Space}` / `\P{White_Space}`. Rust's `\s` is the Unicode
//    White_Space property; JavaScript's `\s` adds U+FEFF and lacks U+0085 (NEL).
// 5. The `u` flag makes the regex walk code points (so `\p{L}` sees astral letters) and
//    enables \p{..}; leftmost-first alternation and backtracking for `\s*[\r\n]` and
//    `\s+(?!\S)` behave as in fancy-regex.
//
// Remaining difference: the Unicode version of the \p{L}/\p{N} tables (V8's ICU vs the
// regex crate's) may differ for characters assigned in recent Unicode releases.

/** The reference split pattern, byte for byte as nanochat writes it (recorded in tokenizer files). */
export const SPLIT_PATTERN =
  String.raw`'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`;

const WS = String.raw`\p{White_Space}`;
const NOT_WS = String.raw`\P{White_Space}`;

/** The JavaScript equivalent of SPLIT_PATTERN (use with the `gu` flags). */
export const SPLIT_PATTERN_JS = [
  String.raw`'(?:[sSſdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])`,
  String.raw`[^\r\n\p{L}\p{N}]?\p{L}+`,
  String.raw`\p{N}{1,2}`,
  String.raw` ?[^${WS}\p{L}\p{N}]+[\r\n]*`,
  String.raw`${WS}*[\r\n]`,
  String.raw`${WS}+(?!${NOT_WS})`,
  String.raw`${WS}+`,
].join("|");

/** A fresh global regex (each has its own lastIndex, so callers never share state). */
export function splitRegex(): RegExp {
  return new RegExp(SPLIT_PATTERN_JS, "gu");
}

/** A sticky variant for walkChunks (each caller keeps its own: lastIndex is state). */
export function stickySplitRegex(): RegExp {
  return new RegExp(SPLIT_PATTERN_JS, "uy");
}

/**
 * The one chunk walk, shared by training (chunk counting) and encoding: calls
 * visit(start, end) with each chunk's UTF-16 range of `text`, in order. Chunks tile the
 * text (the last alternative `\s+` and the punctuation class cover whatever the others
 * leave), so `re.test(text)` from lastIndex = end of the previous chunk finds the next one
 * without allocating a match array or a substring; callers hash the characters in place.
 * A failed test before the end would mean a gap in the pattern's coverage: it is reported,
 * never skipped. `re` comes from stickySplitRegex().
 */
export function walkChunks(re: RegExp, text: string, visit: (start: number, end: number) => void): void {
  const n = text.length;
  re.lastIndex = 0;
  let start = 0;
  while (start < n) {
    if (!re.test(text)) throw new Error(`split regex found no chunk at offset ${start}`);
    const end = re.lastIndex;
    visit(start, end);
    start = end;
  }
}

/** Calls `fn` for each chunk of `text`, in order; the chunks concatenate back to `text`. */
export function forEachChunk(text: string, fn: (chunk: string) => void, re: RegExp = stickySplitRegex()): void {
  walkChunks(re, text, (start, end) => fn(text.slice(start, end)));
}

/** The chunks of `text` as an array (convenient for tests and small inputs). */
export function splitChunks(text: string): string[] {
  const out: string[] = [];
  forEachChunk(text, (c) => out.push(c));
  return out;
}
