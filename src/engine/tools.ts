// The tool-use state machine of one generated sequence, as the reference engine runs it:
//   <|python_start|> … <|python_end|>   the model writes an expression; on python_end the
//   engine evaluates it with the calculator and forces
//   <|output_start|> result <|output_end|>  into the sequence (those tokens are not sampled).
// A sequence ends at <|assistant_end|> or <|bos|>. The calculator never runs code: an
// expression it does not accept gives the model an error string as the output instead.
import { evaluateCalculator } from "./calculator.ts";

/** What the state machine needs from a tokenizer. */
export interface ToolTokenizer {
  specialId(name: string): number;
  encodeOrdinary(text: string): number[];
  decode(ids: number[]): string;
}

/** A tokenizer with no special tokens: sequences never end early and never call tools (benchmarks, model-level tests). */
export const NO_SPECIAL_TOKENS: ToolTokenizer = { specialId: () => -1, encodeOrdinary: () => [], decode: () => "" };

export interface ToolTokens {
  bos: number;
  assistantEnd: number;
  pythonStart: number;
  pythonEnd: number;
  outputStart: number;
  outputEnd: number;
}

export function toolTokens(tok: ToolTokenizer): ToolTokens {
  return {
    bos: tok.specialId("<|bos|>"),
    assistantEnd: tok.specialId("<|assistant_end|>"),
    pythonStart: tok.specialId("<|python_start|>"),
    pythonEnd: tok.specialId("<|python_end|>"),
    outputStart: tok.specialId("<|output_start|>"),
    outputEnd: tok.specialId("<|output_end|>"),
  };
}

/** A calculator call the engine made, for display (the lab shows these distinctly). */
export interface ToolCall {
  expression: string;
  ok: boolean;
  /** The value, or the error message given to the model. */
  output: string;
}

export class RowState {
  /** Tokens to force next, in order (a tool result being written). */
  readonly forced: number[] = [];
  done = false;
  private inPython = false;
  private python: number[] = [];
  /** The last call made, set when python_end arrives (the caller may read and clear it). */
  lastCall: ToolCall | null = null;

  constructor(private readonly tok: ToolTokenizer, private readonly ids: ToolTokens) {}

  /** The next token when one is forced, else null (sample it). */
  nextForced(): number | null {
    return this.forced.length ? this.forced.shift()! : null;
  }

  /** Advances the machine past `token` (sampled or forced). */
  push(token: number): void {
    const t = this.ids;
    if (token === t.assistantEnd || token === t.bos) {
      this.done = true;
      return;
    }
    if (token === t.pythonStart) {
      this.inPython = true;
      this.python = [];
    } else if (token === t.pythonEnd && this.inPython) {
      this.inPython = false;
      const expression = this.tok.decode(this.python);
      const r = evaluateCalculator(expression);
      const output = r.ok ? r.value : r.error;
      this.lastCall = { expression, ok: r.ok, output };
      this.forced.push(t.outputStart, ...this.tok.encodeOrdinary(output), t.outputEnd);
    } else if (this.inPython) {
      this.python.push(token);
    }
  }
}
