// The mutants of one source file: realistic one-line bugs, each a small text edit.
//
//   arithmetic   a + b ↔ a − b, a * b ↔ a / b, a % b → a * b, += ↔ −=, *= ↔ /=
//   comparison   < ↔ <=, > ↔ >=, === ↔ !== (== ↔ != in WGSL)
//   logic        && ↔ ||, true ↔ false, max ↔ min
//   constant     an integer k → k + 1 (1 → 0), a decimal x → 10·x
//   statement    a whole call / assignment / await statement dropped
//
// Code is scanned with comments, strings, template literals and regex literals masked,
// so nothing inside them is touched. In TypeScript a binary operator is only mutated
// with a space on each side (the formatter's style), which keeps generics (Map<K, V>),
// unary minus and ++ out; WGSL has no generics-by-angle in expressions we mutate, so it
// also mutates unspaced operators between operands. Attribute arguments (@binding(1),
// @workgroup_size(256)), imports and console output are left alone: changing them only
// breaks loading or printing, which says nothing about the tests.

export type Language = "ts" | "wgsl";

export interface Mutant {
  file: string;
  /** 1-based line and column of the edit. */
  line: number;
  col: number;
  operator: "arithmetic" | "comparison" | "logic" | "constant" | "statement";
  original: string;
  replacement: string;
  /** The line's code before the edit, trimmed (how equivalents are matched). */
  lineText: string;
}

export function languageOf(file: string): Language | null {
  if (file.endsWith(".wgsl")) return "wgsl";
  if (file.endsWith(".ts") && !file.endsWith(".d.ts")) return "ts";
  return null;
}

/** The text with every character that is not code (comments, strings, regexes) replaced by \x01. */
export function maskNonCode(text: string, lang: Language): string {
  const out = text.split("");
  const mask = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = "\x01";
  };
  let i = 0;
  const n = text.length;
  let prevSignificant = ""; // last non-space code character, for telling regexes from division
  let prevWord = "";
  while (i < n) {
    const c = text[i], d = text[i + 1];
    if (c === "/" && d === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      mask(i, stop);
      i = stop;
      continue;
    }
    if (c === "/" && d === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      mask(i, stop);
      i = stop;
      continue;
    }
    if (lang === "ts" && (c === '"' || c === "'" || c === "`")) {
      let j = i + 1;
      while (j < n && text[j] !== c) {
        if (text[j] === "\\") j++;
        else if (c !== "`" && text[j] === "\n") break;
        j++;
      }
      mask(i, Math.min(n, j + 1));
      i = j + 1;
      prevSignificant = c;
      continue;
    }
    if (lang === "ts" && c === "/" && (prevSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(prevSignificant) || ["return", "typeof", "case", "of", "in"].includes(prevWord))) {
      // A regex literal: up to the closing / outside a character class, then its flags.
      let j = i + 1, inClass = false;
      while (j < n && text[j] !== "\n") {
        if (text[j] === "\\") j += 2;
        else if (text[j] === "[") inClass = true, j++;
        else if (text[j] === "]") inClass = false, j++;
        else if (text[j] === "/" && !inClass) break;
        else j++;
      }
      if (text[j] === "/") {
        j++;
        while (j < n && /[a-z]/.test(text[j])) j++;
        mask(i, j);
        i = j;
        prevSignificant = "/";
        continue;
      }
    }
    if (!/\s/.test(c)) {
      prevSignificant = c;
      if (/[A-Za-z_$]/.test(c)) {
        let j = i;
        while (j < n && /[\w$]/.test(text[j])) j++;
        prevWord = text.slice(i, j);
        prevSignificant = text[j - 1];
        i = j;
        continue;
      }
      prevWord = "";
    }
    i++;
  }
  return out.join("");
}

interface Rule {
  operator: Mutant["operator"];
  pattern: RegExp;
  /** Replacement for the matched text, or null to skip this match. */
  replace: (m: string) => string | null;
}

const SWAP: Record<string, string> = {
  "+": "-", "-": "+", "*": "/", "/": "*", "%": "*",
  "+=": "-=", "-=": "+=", "*=": "/=", "/=": "*=",
  "<": "<=", "<=": "<", ">": ">=", ">=": ">",
  "===": "!==", "!==": "===", "==": "!=", "!=": "==",
  "&&": "||", "||": "&&",
};
const ARITH = new Set(["+", "-", "*", "/", "%", "+=", "-=", "*=", "/="]);

function rules(lang: Language): Rule[] {
  const spaced: Rule = {
    operator: "arithmetic",
    pattern: / (\+=|-=|\*=|\/=|===|!==|==|!=|<=|>=|&&|\|\||[+\-*/%<>]) /g,
    replace: (m) => SWAP[m.trim()] !== undefined ? ` ${SWAP[m.trim()]} ` : null,
  };
  const list: Rule[] = [spaced];
  if (lang === "wgsl") {
    // Unspaced binary operators between operands: a*b, i+1u, (x)-y.
    list.push({ operator: "arithmetic", pattern: /(?<=[\w)\]])(?<!\d[eE])[+\-*/](?=[\w(])/g, replace: (m) => SWAP[m] });
  }
  list.push(
    { operator: "logic", pattern: /\b(true|false)\b/g, replace: (m) => (m === "true" ? "false" : "true") },
    {
      operator: "logic",
      pattern: lang === "ts" ? /\bMath\.(max|min)\(/g : /(?<![\w.])(max|min)\(/g,
      replace: (m) => m.includes("max") ? m.replace("max", "min") : m.replace("min", "max"),
    },
    {
      operator: "constant",
      pattern: /(?<![\w.$])(\d+\.\d*|\d*\.\d+|\d+)(e[+-]?\d+)?([uif]?)(?![\w.$])/g,
      replace: (m) => {
        const suffix = /[uif]$/.test(m) && !/e/.test(m.slice(-2, -1)) ? m.slice(-1) : "";
        const body = suffix ? m.slice(0, -1) : m;
        if (/^\d+$/.test(body)) {
          const k = Number(body);
          if (!Number.isSafeInteger(k)) return null;
          return `${k === 1 ? 0 : k + 1}${suffix}`;
        }
        const x = Number(body);
        if (!Number.isFinite(x) || x === 0) return null;
        // 10·x, written without binary rounding noise: bump the exponent, or shift the point.
        const exp = body.match(/^(.*)e([+-]?\d+)$/);
        let text = exp ? `${exp[1]}e${Number(exp[2]) + 1}` : String(Number((x * 10).toPrecision(15)));
        if (!/[.e]/.test(text)) text += ".0";
        return `${text}${suffix === "u" || suffix === "i" ? "" : suffix}`;
      },
    },
  );
  return list;
}

function operatorOf(original: string, rule: Rule): Mutant["operator"] {
  if (rule.operator !== "arithmetic") return rule.operator;
  const op = original.trim();
  if (ARITH.has(op)) return "arithmetic";
  if (op === "&&" || op === "||") return "logic";
  return "comparison";
}

/** Lines that are never mutated: imports, console output, WGSL attributes and declarations of bindings. */
function skipLine(code: string, lang: Language): boolean {
  const t = code.trim();
  if (t === "") return true;
  if (lang === "ts") return /^(import|export \{|export \* |export type )/.test(t) || /^console\./.test(t);
  return /^(@group|@binding|struct |enable |override )/.test(t);
}

/** Statement drops: a whole statement on one line that calls, assigns or awaits. */
function droppable(code: string, lang: Language): boolean {
  const t = code.trim();
  if (!t.endsWith(";")) return false;
  let depth = 0;
  for (const ch of t) {
    if ("([{".includes(ch)) depth++;
    else if (")]}".includes(ch)) depth--;
    if (depth < 0) return false;
  }
  if (depth !== 0) return false;
  if (lang === "ts") {
    if (/^(const|let|var|return|throw|import|export|type|interface|break|continue|yield|case|default|else|if|for|while|do|switch|try|catch|finally|function|class|async function)\b/.test(t)) return false;
    if (/^console\./.test(t)) return false;
    return /^(await\s+)?[\w$.[\]!?]+(\([^]*\)|\s*(=|\+=|-=|\*=|\/=|\?\?=|\|\|=)\s*.+);$/.test(t) || /^await\s/.test(t);
  }
  if (/^(let|var|const|return|break|continue|if|for|while|loop|fn|struct|override|@)/.test(t)) return false;
  return /^[\w.[\]]+\s*(=|\+=|-=|\*=|\/=)\s*.+;$/.test(t) || /^\w+\([^]*\);$/.test(t);
}

/** Every mutant of `text` (the file's content), in file order. */
export function findMutants(file: string, text: string): Mutant[] {
  const lang = languageOf(file);
  if (!lang) return [];
  const masked = maskNonCode(text, lang);
  const lines = text.split("\n"), maskedLines = masked.split("\n");
  const out: Mutant[] = [];
  for (let li = 0; li < lines.length; li++) {
    const code = maskedLines[li];
    if (skipLine(code.replaceAll("\x01", ""), lang)) continue;
    const lineText = lines[li].trim();
    const seen = new Set<string>();
    for (const rule of rules(lang)) {
      rule.pattern.lastIndex = 0;
      for (const m of code.matchAll(rule.pattern)) {
        const col = m.index!;
        const original = lines[li].slice(col, col + m[0].length);
        if (original !== m[0]) continue; // overlaps masked text
        const replacement = rule.replace(original);
        if (replacement === null || replacement === original) continue;
        // Attribute arguments in WGSL: @workgroup_size(64), @builtin(...)
        if (lang === "wgsl" && /@\w+\([^)]*$/.test(code.slice(0, col))) continue;
        const key = `${col}:${original.trim()}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const lead = original.length - original.trimStart().length;
        out.push({
          file, line: li + 1, col: col + 1 + lead, operator: operatorOf(original, rule),
          original: original.trim(), replacement: replacement.trim(), lineText,
        });
      }
    }
    if (droppable(code.replaceAll("\x01", "s"), lang)) {
      const indent = lines[li].length - lines[li].trimStart().length;
      out.push({ file, line: li + 1, col: indent + 1, operator: "statement", original: lineText, replacement: "", lineText });
    }
  }
  return out;
}

/** The file's text with one mutant applied. */
export function applyMutant(text: string, m: Mutant): string {
  const lines = text.split("\n");
  const line = lines[m.line - 1];
  if (m.operator === "statement") {
    if (line.trim() !== m.original) throw new Error(`${m.file}:${m.line}: the line changed since the mutant was made`);
    lines[m.line - 1] = line.slice(0, m.col - 1);
  } else {
    const at = m.col - 1;
    if (line.slice(at, at + m.original.length) !== m.original) throw new Error(`${m.file}:${m.line}:${m.col}: '${m.original}' is not there`);
    lines[m.line - 1] = line.slice(0, at) + m.replacement + line.slice(at + m.original.length);
  }
  return lines.join("\n");
}

/** One line describing a mutant, e.g. `src/nn/matmul.ts:42:17 comparison  <  →  <=`. */
export function describeMutant(m: Mutant): string {
  const edit = m.operator === "statement" ? "statement dropped" : `${m.original}  →  ${m.replacement}`;
  return `${m.file}:${m.line}:${m.col} ${m.operator}  ${edit}`;
}
