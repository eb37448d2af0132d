// The English word list the spelling tasks draw from: the npm package
// an-array-of-english-words (MIT, ~275,000 lowercase words; the reference uses dwyl's
// words_alpha.txt, a list of the same kind). Loaded on first use, since it is 3 MB.
let words: Promise<readonly string[]> | null = null;

export function loadWords(): Promise<readonly string[]> {
  words ??= import("an-array-of-english-words/index.json", { with: { type: "json" } }).then((m) =>
    (m.default as string[]).filter((w) => /^[a-z]{3,}$/.test(w))
  );
  return words;
}
