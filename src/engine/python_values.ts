// Python's numbers for the calculator (src/engine/calculator.ts): exact ints (BigInt) and
// doubles with Python's int/float rules, bounded arithmetic, and Python's repr for output.
// Runtime-agnostic; no eval.

/** The bounds the evaluator enforces; each violation gives an error string. */
export const CALCULATOR_LIMITS = {
  /** Longest accepted input, in UTF-16 code units. */
  maxInputChars: 1000,
  /** Most tokens in one expression. */
  maxTokens: 500,
  /** Deepest nesting of parentheses, unary signs and `**` right operands together. */
  maxDepth: 50,
  /** Most decimal digits in an integer literal or integer result (sign not counted). */
  maxIntDigits: 300,
  /** Longest string literal, in UTF-16 code units. */
  maxStringChars: 500,
} as const;


/** A calculator failure; its message goes to the model as "error: …". */
export class CalcError extends Error {}

// ---------------------------------------------------------------------------------------------
// Values and arithmetic

export type Value = { kind: "int"; v: bigint } | { kind: "float"; v: number };

export function checkInt(v: bigint): Value {
  const digits = (v < 0n ? -v : v).toString().length;
  if (digits > CALCULATOR_LIMITS.maxIntDigits) {
    throw new CalcError(`result too large (more than ${CALCULATOR_LIMITS.maxIntDigits} digits)`);
  }
  return { kind: "int", v };
}

export function checkFloat(v: number): Value {
  if (Number.isNaN(v)) throw new CalcError("result is not a number");
  if (!Number.isFinite(v)) throw new CalcError("result too large (overflow)");
  return { kind: "float", v };
}

const toFloat = (x: Value): number => (x.kind === "int" ? Number(x.v) : x.v);

export function binary(op: "+" | "-" | "*" | "/" | "**", a: Value, b: Value): Value {
  if (op === "/") {
    const d = toFloat(b);
    if (d === 0) throw new CalcError("division by zero");
    return checkFloat(toFloat(a) / d);
  }
  if (op === "**") return power(a, b);
  if (a.kind === "int" && b.kind === "int") {
    if (op === "+") return checkInt(a.v + b.v);
    if (op === "-") return checkInt(a.v - b.v);
    return checkInt(a.v * b.v);
  }
  const x = toFloat(a), y = toFloat(b);
  if (op === "+") return checkFloat(x + y);
  if (op === "-") return checkFloat(x - y);
  return checkFloat(x * y);
}

function power(a: Value, b: Value): Value {
  if (a.kind === "int" && b.kind === "int" && b.v >= 0n) {
    const base = a.v, exp = b.v;
    const mag = base < 0n ? -base : base;
    if (mag <= 1n || exp <= 1n) return checkInt(base ** exp);
    // |base| ≥ 2: the result has at least (digits(base) − 1)·exp + 1 digits, and since
    // 2**1200 already has 362 digits, exp > 4·maxIntDigits is always too large. Refuse before
    // computing so that 9**9**9 or 10**10000 costs nothing.
    const baseDigits = BigInt(mag.toString().length);
    const limit = BigInt(CALCULATOR_LIMITS.maxIntDigits);
    if (exp > 4n * limit || (baseDigits - 1n) * exp + 1n > limit) {
      throw new CalcError(`result too large (more than ${CALCULATOR_LIMITS.maxIntDigits} digits)`);
    }
    return checkInt(base ** exp);
  }
  // Python converts both operands to float here (int ** negative int included).
  const x = toFloat(a), y = toFloat(b);
  if (x === 0 && y < 0) throw new CalcError("division by zero (0 raised to a negative power)");
  if (x < 0 && !Number.isInteger(y)) {
    throw new CalcError("complex result (negative number raised to a fractional power)");
  }
  return checkFloat(Math.pow(x, y));
}

export function negate(x: Value): Value {
  return x.kind === "int" ? { kind: "int", v: -x.v } : { kind: "float", v: -x.v };
}

/** Python's str.count: non-overlapping occurrences; the empty string matches len(s)+1 times. */
export function pythonStrCount(s: string, sub: string): number {
  if (sub === "") return Array.from(s).length + 1;
  let n = 0;
  for (let i = s.indexOf(sub); i !== -1; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/**
 * Python's repr(float): the shortest digits that round-trip (JS and Python agree on these),
 * laid out the Python way — scientific when the decimal exponent is < -4 or ≥ 16, with a signed,
 * at-least-two-digit exponent ("1e+16", "1.5e-07"); otherwise positional with at least one
 * fractional digit ("2.0", "0.0001").
 */
export function formatPythonFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant, expText] = Math.abs(x).toExponential().split("e");
  const digits = mant.replace(".", "");
  const exp = Number(expText); // value = d.ddd × 10^exp
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, "0");
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac === "" ? "0" : frac}`;
}

export function formatValue(v: Value): string {
  return v.kind === "int" ? v.v.toString() : formatPythonFloat(v.v);
}

