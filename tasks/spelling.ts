// The reference's two spelling tasks, generated from a word list (tasks/words.ts), so the
// chat stages have them offline:
//
//   SimpleSpelling  "Spell the word: apple"  →  "apple:a,p,p,l,e"
//   SpellingBee     "How many r are in strawberry?" → spell the word, count with numbered
//                   lines, check with the calculator ('strawberry'.count('r')), end "#### 3"
//
// Example i uses its own seeded stream (split and index), so every slice is reproducible
// and the test split never shares a stream with train (the reference's October version
// reused train seeds for test; fixed later — this follows the fix).
import { evaluateCalculator } from "../src/engine/calculator.ts";
import { Rng } from "../src/util/rng.ts";
import { extractHashAnswer, Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";

export type SpellingSplit = "train" | "test";

const QUESTIONS = [
  (l: string, w: string) => `How many ${l} are in ${w}?`,
  (l: string, w: string) => `How many times does the letter ${l} appear in "${w}"?`,
  (l: string, w: string) => `Count the letter ${l} in the word ${w}.`,
  (l: string, w: string) => `how many ${l}s are there in ${w}`,
  (l: string, w: string) => `In the word "${w}", how many ${l}'s are there?`,
  (l: string, w: string) => `What is the number of ${l} in ${w}?`,
  (l: string, w: string) => `Tell me how often ${l} occurs in ${w}.`,
  (l: string, w: string) => `${w}: how many ${l}?`,
];

function seeded(split: SpellingSplit, task: number, i: number): Rng {
  return new Rng(((split === "train" ? 0x5eed : 0x7e57) + task) * 1_000_003 + i);
}

abstract class WordTask extends Task {
  constructor(protected readonly words: readonly string[], readonly split: SpellingSplit, readonly size: number, slice: TaskSlice = {}) {
    super(slice);
    if (words.length === 0) throw new TaskError("spelling: the word list is empty");
    if (!Number.isInteger(size) || size < 1) throw new TaskError(`spelling: size must be a positive integer, got ${size}`);
  }

  numExamples(): number {
    return this.size;
  }
}

export class SimpleSpelling extends WordTask {
  readonly name = "simple-spelling";
  readonly evalType = "generative" as const;

  protected getExample(index: number): TaskExample {
    const r = seeded(this.split, 1, index);
    const w = this.words[r.int(this.words.length)];
    return { messages: [{ role: "user", content: `Spell the word: ${w}` }, { role: "assistant", content: `${w}:${[...w].join(",")}` }] };
  }

  override evaluate(example: TaskExample, response: string): boolean {
    const last = example.messages[example.messages.length - 1];
    return typeof last.content === "string" && response.trim() === last.content;
  }
}

export class SpellingBee extends WordTask {
  readonly name = "spelling-bee";
  readonly evalType = "generative" as const;

  protected getExample(index: number): TaskExample {
    const r = seeded(this.split, 2, index);
    const w = this.words[r.int(this.words.length)];
    // Half the time a letter of the word, else any letter (so 0 is a possible answer).
    const letter = r.uniform() < 0.5 ? w[r.int(w.length)] : String.fromCharCode(97 + r.int(26));
    const question = QUESTIONS[r.int(QUESTIONS.length)](letter, w);
    let count = 0;
    const lines = [...w].map((ch, k) => {
      if (ch !== letter) return `${k + 1}:${ch}`;
      count++;
      return `${k + 1}:${ch} hit! count=${count}`;
    });
    const expr = `'${w}'.count('${letter}')`;
    const check = evaluateCalculator(expr);
    if (!check.ok || check.value !== String(count)) throw new TaskError(`spelling bee: the calculator counts ${check.ok ? check.value : check.error} for ${expr}, the lines ${count}`);
    return {
      messages: [
        { role: "user", content: question },
        {
          role: "assistant",
          content: [
            { type: "text", text: `We spell ${w}:${[...w].join(",")}\n${lines.join("\n")}\nThat makes ${count}. Let me check with the calculator:\n` },
            { type: "python", text: expr },
            { type: "python_output", text: String(count) },
            { type: "text", text: `\nThe letter ${letter} appears ${count} time${count === 1 ? "" : "s"}.\n#### ${count}` },
          ],
        },
      ],
    };
  }

  override evaluate(example: TaskExample, response: string): boolean {
    const last = example.messages[example.messages.length - 1];
    const want = extractHashAnswer(typeof last.content === "string" ? last.content : last.content.map((p) => p.text).join(""));
    return want !== null && extractHashAnswer(response) === want;
  }
}
