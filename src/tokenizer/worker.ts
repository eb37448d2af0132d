// Web Worker behind EncoderPool (pool.ts): holds its own Tokenizer built from the
// tokenizer.json object sent once, then encodes batches and counts training chunks.
// Results go back as flat Int32Arrays whose buffers are transferred, not copied.

import { Tokenizer, type EncodeOptions } from "./tokenizer.ts";
import { ChunkCounter } from "./train.ts";
import type { TokenizerFile } from "./serialize.ts";

export type WorkerRequest =
  | { kind: "init"; file: TokenizerFile | null }
  | { kind: "encode"; id: number; texts: string[]; opts: EncodeOptions }
  | { kind: "count"; id: number; texts: string[] }
  | { kind: "flush"; id: number };

export type WorkerReply =
  | { kind: "ready" }
  | { kind: "encoded"; id: number; ids: Int32Array; offsets: Int32Array }
  | { kind: "counted"; id: number }
  | { kind: "counts"; id: number; chunks: string[]; counts: Float64Array }
  | { kind: "error"; id: number; message: string };

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(msg: WorkerReply, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;
let tok: Tokenizer | null = null;
// Counts accumulate here across "count" batches and go back once, on "flush": sending
// each batch's distinct chunks back would cost the main thread as much as counting.
let counter = new ChunkCounter();

scope.onmessage = (e) => {
  const msg = e.data;
  try {
    if (msg.kind === "init") {
      tok = msg.file ? Tokenizer.fromJSON(msg.file, "tokenizer sent to worker") : null;
      scope.postMessage({ kind: "ready" });
    } else if (msg.kind === "encode") {
      if (!tok) throw new Error("worker has no tokenizer");
      const out: number[] = [];
      const offsets = new Int32Array(msg.texts.length + 1);
      msg.texts.forEach((t, i) => {
        for (const id of tok!.encode(t, msg.opts)) out.push(id);
        offsets[i + 1] = out.length;
      });
      const ids = Int32Array.from(out);
      scope.postMessage({ kind: "encoded", id: msg.id, ids, offsets }, [ids.buffer, offsets.buffer]);
    } else if (msg.kind === "count") {
      for (const t of msg.texts) counter.add(t);
      scope.postMessage({ kind: "counted", id: msg.id });
    } else if (msg.kind === "flush") {
      const chunks: string[] = [];
      const counts = new Float64Array(counter.distinct);
      for (const [c, n] of counter.entries()) {
        counts[chunks.length] = n;
        chunks.push(c);
      }
      counter = new ChunkCounter();
      scope.postMessage({ kind: "counts", id: msg.id, chunks, counts }, [counts.buffer]);
    }
  } catch (err) {
    scope.postMessage({ kind: "error", id: "id" in msg ? msg.id : -1, message: (err as Error).message });
  }
};
