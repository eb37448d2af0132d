// DENO-ONLY: the named task mixtures of the chat stages. The reference's mixtures need the
// public datasets on disk (deno task data tasks --download …); the offline ones are made
// from the generated tasks, so `train mid` / `train sft` work on a fresh machine:
//
//   offline-mid   arithmetic 6,300, simple spelling 150, spelling bee 75, identity 200 —
//                 val: arithmetic test 200, spelling bee test 100
//   offline-sft   the next 300 arithmetic problems, 45 identity conversations, 22 + 22
//                 more spelling problems — val: arithmetic test 200
//   reference-mid SmolTalk train + MMLU auxiliary_train + GSM8K train + identity ×2 +
//                 SimpleSpelling 200k + SpellingBee 80k — val: SmolTalk test + MMLU test[:5200]
//                 + GSM8K test[:420]
//   reference-sft ARC-Easy + ARC-Challenge train + GSM8K train + SmolTalk train[:10k] +
//                 identity + SimpleSpelling 300 + SpellingBee 300 — val: SmolTalk test
//
// The offline sizes are chosen for the tiny preset's chat pipeline (configs/tiny.ts): one
// epoch of each is its stage, and mid is mostly arithmetic because copying operands into a
// calculator call is what takes a 2-layer model longest to learn (abruptly, after ~180–250
// steps of 1,024 tokens: one epoch is 338 steps, configs/tiny.ts says why); SFT's examples
// follow mid's in each generated task, so no problem is seen twice.
import { type ExampleSource, TaskError, TaskMixture, TaskSequence, type TaskSlice } from "./common.ts";
import { ARC } from "./arc.ts";
import { Arithmetic } from "./arithmetic.ts";
import { CustomJSON } from "./customjson.ts";
import { loadDataset } from "./deno_datasets.ts";
import { GSM8K } from "./gsm8k.ts";
import { MMLU } from "./mmlu.ts";
import { SmolTalk } from "./smoltalk.ts";
import { SimpleSpelling, SpellingBee } from "./spelling.ts";
import { loadWords } from "./words.ts";

export interface Mixture {
  name: string;
  train: ExampleSource;
  val: ExampleSource;
  /** The make-up, for the log: "arithmetic-train 12000, identity 1000, …". */
  describe: string;
}

export interface MixtureOptions {
  /** Where the downloaded datasets are cached (default data/tasks). */
  dataDir?: string;
}

interface MixtureSpec {
  stage: "mid" | "sft";
  help: string;
  build(opts: MixtureOptions): Promise<{ train: ExampleSource[]; val: ExampleSource[] }>;
}

export const IDENTITY_FILE = new URL("./data/identity_conversations.jsonl", import.meta.url);

async function identity(slice: TaskSlice = {}): Promise<CustomJSON> {
  return new CustomJSON(await Deno.readTextFile(IDENTITY_FILE), { ...slice, source: IDENTITY_FILE.pathname, name: "identity" });
}

/** Examples per generated task in the offline mixtures (SFT takes the ones after mid's). */
export const OFFLINE_MID = { arithmetic: 6_300, identity: 200, simple: 150, bee: 75 } as const;
export const OFFLINE_SFT = { arithmetic: 300, identity: 45, simple: 22, bee: 22 } as const;
const MID = OFFLINE_MID, SFT = OFFLINE_SFT;

/** A dataset's rows and how to name row i in an error (its file and row). */
async function dataset(name: string, opts: MixtureOptions) {
  const d = await loadDataset(name, { dataDir: opts.dataDir });
  return { rows: d.rows, source: d.locate };
}

/** A real-data task over a downloaded dataset, its errors naming the file and row. */
async function make<T>(Cls: new (rows: Record<string, unknown>[], o: { source?: (row: number) => string; stop?: number }) => T, name: string, opts: MixtureOptions, extra: { stop?: number } = {}): Promise<T> {
  const d = await dataset(name, opts);
  return new Cls(d.rows, { ...extra, source: d.source });
}

export const MIXTURES: Record<string, MixtureSpec> = {
  "offline-mid": {
    stage: "mid",
    help: "generated arithmetic (calculator calls), spelling and identity chats; no download",
    build: async () => {
      const words = await loadWords(), id = await identity({ stop: MID.identity });
      return {
        train: [new Arithmetic("train", MID.arithmetic), new SimpleSpelling(words, "train", MID.simple), new SpellingBee(words, "train", MID.bee), id],
        val: [new Arithmetic("test", 200), new SpellingBee(words, "test", 100)],
      };
    },
  },
  "offline-sft": {
    stage: "sft",
    help: "generated arithmetic (calculator calls), spelling and identity chats; no download",
    build: async () => {
      const words = await loadWords(), id = await identity({ stop: SFT.identity });
      return {
        train: [
          new Arithmetic("train", MID.arithmetic + SFT.arithmetic, { start: MID.arithmetic }),
          id,
          new SimpleSpelling(words, "train", MID.simple + SFT.simple, { start: MID.simple }),
          new SpellingBee(words, "train", MID.bee + SFT.bee, { start: MID.bee }),
        ],
        val: [new Arithmetic("test", 200)],
      };
    },
  },
  "reference-mid": {
    stage: "mid",
    help: "the reference's: SmolTalk, MMLU auxiliary_train, GSM8K, identity ×2, SimpleSpelling 200k, SpellingBee 80k (needs the datasets)",
    build: async (opts) => {
      const words = await loadWords(), id = await identity();
      return {
        train: [
          await make(SmolTalk, "smoltalk-train", opts), await make(MMLU, "mmlu-auxiliary-train", opts), await make(GSM8K, "gsm8k-train", opts),
          id, id, new SimpleSpelling(words, "train", 200_000), new SpellingBee(words, "train", 80_000),
        ],
        val: [await make(SmolTalk, "smoltalk-test", opts), await make(MMLU, "mmlu-test", opts, { stop: 5200 }), await make(GSM8K, "gsm8k-test", opts, { stop: 420 })],
      };
    },
  },
  "reference-sft": {
    stage: "sft",
    help: "the reference's: ARC-Easy + ARC-Challenge train, GSM8K train, SmolTalk train[:10k], identity, spelling 300 + 300 (needs the datasets)",
    build: async (opts) => {
      const words = await loadWords(), id = await identity();
      return {
        train: [
          await make(ARC, "arc-easy-train", opts), await make(ARC, "arc-challenge-train", opts), await make(GSM8K, "gsm8k-train", opts),
          await make(SmolTalk, "smoltalk-train", opts, { stop: 10_000 }), id, new SimpleSpelling(words, "train", 300), new SpellingBee(words, "train", 300),
        ],
        val: [await make(SmolTalk, "smoltalk-test", opts)],
      };
    },
  },
};

/** The mixture `name` (default: the stage's offline one), checked to belong to `stage`. */
export async function buildMixture(name: string, stage: "mid" | "sft", opts: MixtureOptions = {}): Promise<Mixture> {
  const key = name || `offline-${stage}`;
  const spec = MIXTURES[key];
  if (!spec) {
    const names = Object.entries(MIXTURES).filter(([, s]) => s.stage === stage).map(([n]) => n);
    throw new TaskError(`unknown mixture '${key}' for ${stage}; the ${stage} mixtures are: ${names.join(", ")}`);
  }
  if (spec.stage !== stage) throw new TaskError(`mixture '${key}' is for ${spec.stage}, not ${stage}`);
  const parts = await spec.build(opts);
  const count = new Map<string, number>();
  for (const t of parts.train) count.set(t.name, (count.get(t.name) ?? 0) + t.length);
  return {
    name: key,
    train: new TaskMixture(parts.train),
    val: new TaskSequence(parts.val),
    describe: [...count].map(([n, k]) => `${n} ${k.toLocaleString("en-US")}`).join(", "),
  };
}

/** Mixture names and help for one stage (--help). */
export function mixtureHelp(stage: "mid" | "sft"): string {
  return Object.entries(MIXTURES).filter(([, s]) => s.stage === stage).map(([n, s]) => `  ${n.padEnd(14)} ${s.help}`).join("\n");
}
