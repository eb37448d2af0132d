// The calculator tool the chat engine calls when the model closes a
// <|python_start|> … <|python_end|> block (reference: nanochat/engine.py, section 12 of
// shared/reference/nanochat-pipeline.md).
//
// The reference drops commas, whitelists arithmetic characters, rejects `**`, and hands the
// string to Python's `eval` (later also allowing `'text'.count('x')`). This module is the lab's
// own small, bounded expression language instead: a hand-written tokenizer and recursive-descent
// parser/evaluator. It never uses eval/Function, never touches the runtime (no Deno.*), and
// never throws: every failure comes back as a short "error: …" string meant for the model.
//
// Language (Python 3 semantics unless noted):
//   numbers        123, 1,234 (commas between integer digits are dropped), 1.5, .5, 1., 1e3, 2.5E-3
//   operators      + - * / **   (also Unicode × ÷ −), unary + and -, parentheses
//   precedence     ** (right-assoc; binds tighter than a unary minus on its left: -2**2 == -4,
//                  and its right operand may carry a sign: 2**-1 == 0.5) > unary > * / > + -
//   strings        'text'.count('sub') or "text".count("sub"): non-overlapping occurrences,
//                  Python's str.count ('' counts len+1, len in code points); the result is an int
//                  usable in arithmetic. String literals are allowed nowhere else.
//   values         exact integers (BigInt) and IEEE doubles, with Python's int/float rules:
//                  int (+ - *) int -> int, int ** non-negative int -> int, `/` always -> float,
//                  anything mixed with a float -> float.
//   output         Python's repr of the result: "4", "2.0", "0.30000000000000004", "1e+16", "1e-05".
//
// Not supported (each an error, never evaluated): names, calls, attribute access other than
// `.count` on a string literal, indexing/brackets, `//`, `%`, comparisons, assignment, `;`,
// lambdas, underscores in numbers, hex/octal/binary literals, complex numbers.

import { binary, CALCULATOR_LIMITS, CalcError, checkFloat, formatValue, negate, pythonStrCount, type Value } from "./python_values.ts";

export { CALCULATOR_LIMITS, formatPythonFloat, pythonStrCount } from "./python_values.ts";

export type CalculatorResult = { ok: true; value: string } | { ok: false; error: string };

// ---------------------------------------------------------------------------------------------
// Tokenizer

type Token =
  | { kind: "num"; pos: number; text: string; int: boolean }
  | { kind: "str"; pos: number; value: string }
  | { kind: "op"; pos: number; op: "+" | "-" | "*" | "/" | "**" }
  | { kind: "lparen"; pos: number }
  | { kind: "rparen"; pos: number }
  | { kind: "dot"; pos: number }
  | { kind: "name"; pos: number; name: string }
  | { kind: "end"; pos: number };

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const isNameStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isNameChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
const isSpace = (c: string): boolean => c === " " || c === "\t" || c === "\n" || c === "\r";

function unsupported(pos: number, what: string): CalcError {
  return new CalcError(`unsupported syntax at position ${pos}: '${what}'`);
}

function readNumber(src: string, start: number): { token: Token; next: number } {
  let i = start;
  let text = "";
  let isInt = true;
  // Integer part; a comma between two digits is a thousands separator and is dropped.
  while (i < src.length) {
    const c = src[i];
    if (isDigit(c)) {
      text += c;
      i++;
    } else if (c === "," && text.length > 0 && isDigit(src[i + 1])) {
      i++;
    } else break;
  }
  if (src[i] === ".") {
    // As in Python, a dot right after digits always belongs to the number: "1." and "1.e5" are
    // floats, and "1.count" is a float followed by a stray name (an error).
    isInt = false;
    text += ".";
    i++;
    while (isDigit(src[i])) text += src[i++];
  }
  if ((src[i] === "e" || src[i] === "E") && text !== "") {
    let j = i + 1;
    if (src[j] === "+" || src[j] === "-") j++;
    if (isDigit(src[j])) {
      isInt = false;
      text += "e" + src.slice(i + 1, j);
      i = j;
      while (isDigit(src[i])) text += src[i++];
    }
  }
  if (text === "" || text === ".") throw unsupported(start, src[start]);
  if (isInt) {
    if (text.length > 1 && text[0] === "0" && /[1-9]/.test(text)) {
      throw new CalcError(`leading zeros are not allowed in integers at position ${start}`);
    }
    if (text.replace(/^0+(?=\d)/, "").length > CALCULATOR_LIMITS.maxIntDigits) {
      throw new CalcError(`number too long at position ${start}`);
    }
  }
  return { token: { kind: "num", pos: start, text, int: isInt }, next: i };
}

function readString(src: string, start: number): { token: Token; next: number } {
  const quote = src[start];
  let i = start + 1;
  let value = "";
  for (;;) {
    if (i >= src.length) throw new CalcError(`unterminated string at position ${start}`);
    const c = src[i];
    if (c === quote) break;
    if (c === "\n" || c === "\r") throw new CalcError(`unterminated string at position ${start}`);
    if (c === "\\") {
      const e = src[i + 1];
      const map: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t" };
      if (e === undefined || !(e in map)) {
        throw new CalcError(`unsupported escape in string at position ${i}`);
      }
      value += map[e];
      i += 2;
    } else {
      value += c;
      i++;
    }
    if (value.length > CALCULATOR_LIMITS.maxStringChars) {
      throw new CalcError(
        `string literal too long at position ${start} (max ${CALCULATOR_LIMITS.maxStringChars} chars)`,
      );
    }
  }
  return { token: { kind: "str", pos: start, value }, next: i + 1 };
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (tokens.length >= CALCULATOR_LIMITS.maxTokens) {
      throw new CalcError(`expression too long (more than ${CALCULATOR_LIMITS.maxTokens} tokens)`);
    }
    if (isDigit(c) || (c === "." && isDigit(src[i + 1]))) {
      const { token, next } = readNumber(src, i);
      tokens.push(token);
      i = next;
    } else if (c === "'" || c === '"') {
      const { token, next } = readString(src, i);
      tokens.push(token);
      i = next;
    } else if (c === "*" && src[i + 1] === "*") {
      tokens.push({ kind: "op", pos: i, op: "**" });
      i += 2;
    } else if (c === "/" && src[i + 1] === "/") {
      throw unsupported(i, "//");
    } else if (c === "+" || c === "-" || c === "*" || c === "/") {
      tokens.push({ kind: "op", pos: i, op: c });
      i++;
    } else if (c === "\u2212") { // − MINUS SIGN
      tokens.push({ kind: "op", pos: i, op: "-" });
      i++;
    } else if (c === "\u00d7") { // × MULTIPLICATION SIGN
      tokens.push({ kind: "op", pos: i, op: "*" });
      i++;
    } else if (c === "\u00f7") { // ÷ DIVISION SIGN
      tokens.push({ kind: "op", pos: i, op: "/" });
      i++;
    } else if (c === "(") {
      tokens.push({ kind: "lparen", pos: i });
      i++;
    } else if (c === ")") {
      tokens.push({ kind: "rparen", pos: i });
      i++;
    } else if (c === ".") {
      tokens.push({ kind: "dot", pos: i });
      i++;
    } else if (isNameStart(c)) {
      let j = i + 1;
      while (isNameChar(src[j])) j++;
      const name = src.slice(i, j);
      // The only name the language has is `count` right after a dot; report any other name
      // (import, open, lambda, …) at once, as the first thing wrong with the expression.
      if (name !== "count" || tokens[tokens.length - 1]?.kind !== "dot") throw unsupported(i, name);
      tokens.push({ kind: "name", pos: i, name });
      i = j;
    } else {
      const cp = src.codePointAt(i) ?? 0;
      throw unsupported(i, String.fromCodePoint(cp));
    }
  }
  tokens.push({ kind: "end", pos: src.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parser / evaluator (evaluates while parsing; the grammar is tiny)
//
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary)*
//   unary   := ('+' | '-') unary | power
//   power   := primary ('**' unary)?
//   primary := NUMBER | '(' expr ')' | STRING '.' 'count' '(' STRING ')'

function describe(t: Token): string {
  switch (t.kind) {
    case "num":
      return t.text;
    case "str":
      return "string literal";
    case "op":
      return t.op;
    case "lparen":
      return "(";
    case "rparen":
      return ")";
    case "dot":
      return ".";
    case "name":
      return t.name;
    case "end":
      return "end of input";
  }
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i];
  }

  private next(): Token {
    const t = this.tokens[this.i];
    if (t.kind !== "end") this.i++; // never step past the end token
    return t;
  }

  private enter(pos: number): void {
    if (++this.depth > CALCULATOR_LIMITS.maxDepth) {
      throw new CalcError(
        `expression nested too deeply at position ${pos} (max depth ${CALCULATOR_LIMITS.maxDepth})`,
      );
    }
  }

  private leave(): void {
    this.depth--;
  }

  private fail(t: Token): CalcError {
    if (t.kind === "end") return new CalcError("unexpected end of expression");
    if (t.kind === "name") return unsupported(t.pos, t.name);
    if (t.kind === "str") {
      return new CalcError(
        `unsupported syntax at position ${t.pos}: string literals are only allowed as 'text'.count('x')`,
      );
    }
    return unsupported(t.pos, describe(t));
  }

  parseAll(): Value {
    const v = this.expr();
    const t = this.peek();
    if (t.kind === "rparen") throw new CalcError(`unbalanced parenthesis at position ${t.pos}`);
    if (t.kind !== "end") throw this.fail(t);
    return v;
  }

  private expr(): Value {
    let v = this.term();
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && (t.op === "+" || t.op === "-")) {
        this.next();
        v = binary(t.op, v, this.term());
      } else return v;
    }
  }

  private term(): Value {
    let v = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && (t.op === "*" || t.op === "/")) {
        this.next();
        v = binary(t.op, v, this.unary());
      } else return v;
    }
  }

  private unary(): Value {
    const t = this.peek();
    if (t.kind === "op" && (t.op === "+" || t.op === "-")) {
      this.next();
      this.enter(t.pos);
      const v = this.unary();
      this.leave();
      return t.op === "-" ? negate(v) : v;
    }
    return this.power();
  }

  private power(): Value {
    const base = this.primary();
    const t = this.peek();
    if (t.kind === "op" && t.op === "**") {
      this.next();
      this.enter(t.pos);
      const exp = this.unary(); // right-associative: 2**3**2 == 2**9
      this.leave();
      return binary("**", base, exp);
    }
    return base;
  }

  private primary(): Value {
    const t = this.next();
    if (t.kind === "num") {
      return t.int ? { kind: "int", v: BigInt(t.text) } : checkFloat(parseFloat(t.text));
    }
    if (t.kind === "lparen") {
      this.enter(t.pos);
      const v = this.expr();
      const close = this.next();
      if (close.kind !== "rparen") {
        if (close.kind === "end") throw new CalcError(`unbalanced parenthesis at position ${t.pos}`);
        throw this.fail(close);
      }
      this.leave();
      return v;
    }
    if (t.kind === "str") {
      const dot = this.next();
      const name = this.next();
      if (dot.kind !== "dot") throw this.fail(t);
      if (name.kind !== "name" || name.name !== "count") throw unsupported(name.pos, describe(name));
      const open = this.next();
      if (open.kind !== "lparen") throw this.fail(open);
      const arg = this.next();
      if (arg.kind !== "str") {
        throw new CalcError(`.count() takes one string literal (position ${arg.pos})`);
      }
      const close = this.next();
      if (close.kind !== "rparen") {
        throw new CalcError(`.count() takes one string literal (position ${close.pos})`);
      }
      return { kind: "int", v: BigInt(pythonStrCount(t.value, arg.value)) };
    }
    if (t.kind === "rparen") throw new CalcError(`unbalanced parenthesis at position ${t.pos}`);
    throw this.fail(t);
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Evaluate one calculator expression. Returns the result as Python would print it
 * (`ok: true`), or a short "error: …" string for the model (`ok: false`). Never throws.
 */
export function evaluateCalculator(expr: string): CalculatorResult {
  try {
    if (typeof expr !== "string") throw new CalcError("expression must be a string");
    if (expr.length > CALCULATOR_LIMITS.maxInputChars) {
      throw new CalcError(`expression too long (max ${CALCULATOR_LIMITS.maxInputChars} characters)`);
    }
    if (expr.trim() === "") throw new CalcError("empty expression");
    const value = new Parser(tokenize(expr)).parseAll();
    return { ok: true, value: formatValue(value) };
  } catch (e) {
    if (e instanceof CalcError) return { ok: false, error: `error: ${e.message}` };
    // Defensive: nothing above should throw anything else, but a tool call must never crash
    // the engine.
    return { ok: false, error: "error: could not evaluate expression" };
  }
}
