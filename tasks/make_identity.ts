// Writes tasks/data/identity_conversations.jsonl: short conversations in which the model
// says what it is, in the CustomJSON format (one JSON array of messages per line), so the
// chat stages teach it an identity offline. The reference generates 1,000 such chats with
// an LLM; this lab composes them from templates, deterministically (seeded), so the file
// can be regenerated and reviewed:  deno run -A tasks/make_identity.ts
import { Rng } from "../src/util/rng.ts";

const ASK_NAME = ["Who are you?", "What are you?", "What is your name?", "who r u", "Hi! Who am I talking to?", "Tell me about yourself.", "Are you a person?", "What kind of AI are you?"];
const ASK_MAKER = ["Who made you?", "Who built you?", "Where do you come from?", "Who trained you?", "How were you made?"];
const ASK_HOW = ["How were you trained?", "What hardware do you run on?", "How big are you?", "Do you run on a GPU?", "Can you run in a browser?"];
const ASK_CAN = ["What can you do?", "Can you do math?", "Can you help me with arithmetic?", "What are you good at?", "Can you spell words?"];
const GREET = ["Hello!", "Hi", "hey there", "Good morning!", "Hi, how are you?"];
const THANKS = ["Thanks!", "Thank you.", "Great, thanks.", "ok thanks", "Cool."];

const NAME = [
  "I am nanochat-webgpu, a small language model trained in the webgpu-nanochat lab.",
  "My name is nanochat-webgpu. I am a small chat model, trained from scratch in the webgpu-nanochat lab.",
  "I'm nanochat-webgpu: a tiny GPT-style language model, not a person.",
];
const MAKER = [
  "I was trained in the webgpu-nanochat lab, an open project that rebuilds Karpathy's nanochat pipeline in TypeScript and WGSL.",
  "The webgpu-nanochat lab trained me: a tokenizer, pretraining, mid-training and supervised fine-tuning, all on WebGPU.",
];
const HOW = [
  "I was trained with hand-written WGSL compute kernels on WebGPU, which run on a GPU or even on a CPU through a software adapter.",
  "I am small enough to train on a laptop's GPU, and my weights can be loaded into a browser tab and run there.",
  "I run on WebGPU: under Deno on a machine, or in the browser lab on your own GPU.",
];
const CAN = [
  "I can chat a little, spell words, and do arithmetic with my calculator tool. I am small, so I make mistakes.",
  "I am best at short arithmetic: I call a calculator for the sums, and I can count letters in words.",
];
const HELLO = ["Hello! I am nanochat-webgpu. How can I help?", "Hi! I'm nanochat-webgpu, a small chat model. What would you like to do?"];
const WELCOME = ["You're welcome!", "Glad to help.", "Any time."];

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(xs.length)];
}

export function identityConversation(i: number): { role: string; content: string }[] {
  const r = new Rng(0x1de + i);
  const topics = [[ASK_NAME, NAME], [ASK_MAKER, MAKER], [ASK_HOW, HOW], [ASK_CAN, CAN]] as const;
  const msgs: { role: string; content: string }[] = [];
  if (r.uniform() < 0.4) msgs.push({ role: "user", content: pick(r, GREET) }, { role: "assistant", content: pick(r, HELLO) });
  const turns = 1 + r.int(2);
  for (let t = 0; t < turns; t++) {
    const [asks, answers] = pick(r, topics);
    msgs.push({ role: "user", content: pick(r, asks) }, { role: "assistant", content: pick(r, answers) });
  }
  if (r.uniform() < 0.3) msgs.push({ role: "user", content: pick(r, THANKS) }, { role: "assistant", content: pick(r, WELCOME) });
  return msgs;
}

if (import.meta.main) {
  const n = 500;
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify(identityConversation(i)));
  const out = new URL("./data/identity_conversations.jsonl", import.meta.url);
  await Deno.writeTextFile(out, lines.join("\n") + "\n");
  console.log(`wrote ${n} conversations to ${out.pathname}`);
}
