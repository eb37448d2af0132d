// Arithmetic: short word problems in GSM8K's format whose answers need the calculator — the
// offline stand-in for GSM8K, so the chat stages teach tool use on a fresh machine. Each
// problem has 2–4 digit operands and one or two of + − ×, in one of many phrasings; the
// answer calls the calculator with the expression, reads its output and ends "#### N":
//
//   user       A baker makes 37 trays of 91 rolls each. How many rolls is that?
//   assistant  [python] 37*91  [python_output] 3367  [text] "\n#### 3367"
//
// The output part is what the engine's calculator prints for the expression, so training
// shows exactly what generation will see. Problem i of a split comes from its own seeded
// stream, so train and test never share a generator state (and any slice is reproducible).
import { evaluateCalculator } from "../src/engine/calculator.ts";
import { Rng } from "../src/util/rng.ts";
import { extractHashAnswer, Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";

export type ArithmeticSplit = "train" | "test";
/**
 * `standard`: what mid and SFT teach (2–4 digit operands). `long`: the same phrasings over
 * longer numbers (3–5 digits, products of 3–4 by 3–4 digits, so 6–8 digit answers): more
 * digits to copy into the call and out of its output, where the small chat model slips,
 * so SFT alone is well short of its ceiling there. RL trains and is scored on it.
 */
export type ArithmeticLevel = "standard" | "long";

const NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kira", "Liam", "Maya", "Noah", "Omar", "Priya"];
const THINGS = ["apples", "books", "coins", "stickers", "marbles", "pencils", "cards", "stamps", "shells", "beads"];
const GROUPS = [["boxes", "box"], ["bags", "bag"], ["crates", "crate"], ["shelves", "shelf"], ["packs", "pack"], ["jars", "jar"]];

type Op = "+" | "-" | "*";
interface Problem {
  question: string;
  expr: string;
}

/** One-operation phrasings: (a, b, names) → question; the answer is a op b. */
const ONE: Record<Op, ((a: number, b: number, r: Rng) => string)[]> = {
  "+": [
    (a, b) => `What is ${a} plus ${b}?`,
    (a, b) => `Add ${a} and ${b}.`,
    (a, b, r) => `${pick(r, NAMES)} has ${a} ${pick(r, THINGS)} and gets ${b} more. How many does ${pick(r, ["she", "he", "they"])} have now?`,
    (a, b, r) => { const t = pick(r, THINGS); return `A shop sold ${a} ${t} on Monday and ${b} ${t} on Tuesday. How many ${t} did it sell in all?`; },
    (a, b) => `What is the sum of ${a} and ${b}?`,
  ],
  "-": [
    (a, b) => `What is ${a} minus ${b}?`,
    (a, b) => `Subtract ${b} from ${a}.`,
    (a, b, r) => { const t = pick(r, THINGS); return `${pick(r, NAMES)} had ${a} ${t} and gave away ${b}. How many ${t} are left?`; },
    (a, b) => `A library has ${a} books and lends out ${b}. How many books are still on the shelves?`,
    (a, b) => `How much is ${a} take away ${b}?`,
  ],
  "*": [
    (a, b) => `What is ${a} times ${b}?`,
    (a, b) => `Multiply ${a} by ${b}.`,
    (a, b, r) => { const [gs] = pick(r, GROUPS); const t = pick(r, THINGS); return `There are ${a} ${gs} with ${b} ${t} in each. How many ${t} are there?`; },
    (a, b, r) => { const t = pick(r, THINGS); return `${pick(r, NAMES)} buys ${a} packs of ${t}. Each pack has ${b} ${t}. How many ${t} is that?`; },
    (a, b) => `What is the product of ${a} and ${b}?`,
  ],
};

/** Two-operation phrasings: a·b then ± c, or a ± b then ± c. */
const TWO: ((a: number, b: number, c: number, r: Rng) => Problem)[] = [
  (a, b, c, r) => { const t = pick(r, THINGS); const [gs] = pick(r, GROUPS); return { question: `There are ${a} ${gs} of ${b} ${t} each, and ${c} loose ${t}. How many ${t} are there in all?`, expr: `${a}*${b}+${c}` }; },
  (a, b, c, r) => { const t = pick(r, THINGS); return { question: `${pick(r, NAMES)} buys ${a} packs of ${b} ${t} and gives ${c} ${t} away. How many ${t} are left?`, expr: `${a}*${b}-${c}` }; },
  (a, b, c) => ({ question: `What is ${a} plus ${b} plus ${c}?`, expr: `${a}+${b}+${c}` }),
  (a, b, c) => ({ question: `What is ${a} plus ${b} minus ${c}?`, expr: `${a}+${b}-${c}` }),
  (a, b, c) => ({ question: `What is ${a} times ${b} plus ${c}?`, expr: `${a}*${b}+${c}` }),
  (a, b, c, r) => { const t = pick(r, THINGS); return { question: `A store had ${a} ${t}, got ${b} more, then sold ${c}. How many ${t} does it have now?`, expr: `${a}+${b}-${c}` }; },
];

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(xs.length)];
}

type Digits = [min: number, max: number];
/** Digits per level: sums' and differences' operands, a product's two factors, and two-operation operands. */
const DIGITS: Record<ArithmeticLevel, { one: Digits; factors: [Digits, Digits]; two: Digits }> = {
  standard: { one: [2, 4], factors: [[2, 4], [2, 3]], two: [2, 3] },
  long: { one: [3, 5], factors: [[3, 4], [3, 4]], two: [3, 4] },
};
/** An operand of min–max digits, each length equally likely (so more of the short numbers than uniform over values). */
function draw(r: Rng, [min, max]: Digits): number {
  const digits = min + r.int(max - min + 1);
  return 10 ** (digits - 1) + r.int(9 * 10 ** (digits - 1));
}

/** Problem i of a split and level: a fresh Rng per (split, level, i), so no two streams share a state. */
export function makeProblem(split: ArithmeticSplit, i: number, level: ArithmeticLevel = "standard"): Problem {
  const seed = (split === "train" ? 0x51ed : 0x7e57) + (level === "long" ? 0x10000 : 0);
  const r = new Rng(seed * 1_000_003 + i);
  const d = DIGITS[level];
  if (r.uniform() < 0.3) {
    const a = draw(r, d.two), b = draw(r, d.two), c = draw(r, d.two);
    const p = pick(r, TWO)(a, b, c, r);
    if (evaluateCalculator(p.expr).ok && !evaluateCalculatorValue(p.expr).startsWith("-")) return p;
  }
  const op = pick(r, ["+", "-", "*"] as const);
  let a = draw(r, op === "*" ? d.factors[0] : d.one), b = draw(r, op === "*" ? d.factors[1] : d.one);
  if (op === "-" && b > a) [a, b] = [b, a];
  return { question: pick(r, ONE[op])(a, b, r), expr: `${a}${op}${b}` };
}

function evaluateCalculatorValue(expr: string): string {
  const v = evaluateCalculator(expr);
  if (!v.ok) throw new TaskError(`arithmetic: the calculator rejects ${expr}: ${v.error}`);
  return v.value;
}

export class Arithmetic extends Task {
  readonly name: string;
  readonly evalType = "generative" as const;

  constructor(readonly split: ArithmeticSplit, readonly size: number, slice: TaskSlice = {}, readonly level: ArithmeticLevel = "standard") {
    super(slice);
    if (!Number.isInteger(size) || size < 1) throw new TaskError(`arithmetic: size must be a positive integer, got ${size}`);
    this.name = level === "standard" ? `arithmetic-${split}` : `arithmetic-${level}-${split}`;
  }

  numExamples(): number {
    return this.size;
  }

  protected getExample(index: number): TaskExample {
    const p = makeProblem(this.split, index, this.level);
    const result = evaluateCalculatorValue(p.expr);
    return {
      messages: [
        { role: "user", content: p.question },
        {
          role: "assistant",
          content: [
            { type: "python", text: p.expr },
            { type: "python_output", text: result },
            { type: "text", text: `\n#### ${result}` },
          ],
        },
      ],
    };
  }

  /** Correct iff the reply's "#### N" equals the answer's (commas ignored), as GSM8K is scored. */
  override evaluate(example: TaskExample, response: string): boolean {
    const last = example.messages[example.messages.length - 1];
    const want = typeof last.content === "string" ? extractHashAnswer(last.content) : extractHashAnswer(last.content.map((p) => p.text).join(""));
    const got = extractHashAnswer(response);
    return want !== null && got === want;
  }
}
