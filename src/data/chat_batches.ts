// Batches for the chat stages, from rendered conversations ({ids, mask} as the
// tokenizer's renderConversation returns them; mask 1 = the model learns that token).
//
// SFT (reference chat_sft): no packing. Each row is one conversation, right-padded to
// the longest in the batch; inputs = ids[0..n-1), targets = ids[1..n) where the target
// token's mask is 1, else -1 (ignored by the loss), and -1 on padding.
//
// Mid-training (reference mid_train): every token is trained, the mask is ignored.
// Conversations (rank-strided over the dataset) are streamed and cut into B*T+1 chunks
// exactly like pretraining; one epoch, the batch in which the cursor wraps is the last.

import { DataError } from "./errors.ts";
import { type Batch, checkShape, toBatch, TokenQueue } from "./packing.ts";

export interface RenderedLike {
  ids: readonly number[];
  mask: readonly number[];
}

export interface SftOptions {
  /** Fixed sequence length: pad every row to T (crop longer conversations to T+1 ids). Default: longest row - 1. */
  T?: number;
}

/** One SFT batch: rows.length x T, padded with padId (the reference pads with <|assistant_end|>). */
export function sftBatch(rows: readonly RenderedLike[], padId: number, opts: SftOptions = {}): Batch {
  if (rows.length === 0) throw new RangeError("sftBatch needs at least one conversation");
  for (const [i, r] of rows.entries()) {
    if (r.ids.length !== r.mask.length) throw new RangeError(`conversation ${i}: ${r.ids.length} ids but ${r.mask.length} mask values`);
    if (r.ids.length < 2) throw new RangeError(`conversation ${i} has ${r.ids.length} token(s); it needs 2 to make one (input, target) pair`);
  }
  const T = opts.T ?? Math.max(...rows.map((r) => r.ids.length)) - 1;
  checkShape(rows.length, T);
  const B = rows.length;
  const inputs = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T).fill(-1);
  for (const [b, { ids, mask }] of rows.entries()) {
    const n = Math.min(ids.length, T + 1);
    for (let t = 0; t < n - 1; t++) {
      inputs[b * T + t] = ids[t];
      // mask[t+1]: whether the token being predicted is one the model should learn.
      if (mask[t + 1] === 1) targets[b * T + t] = ids[t + 1];
    }
  }
  return { inputs, targets, B, T };
}

/** Consecutive groups of B conversations as SFT batches; a last, smaller group only with keepLast. */
export function* sftBatches(
  conversations: Iterable<RenderedLike>,
  B: number,
  padId: number,
  opts: SftOptions & { keepLast?: boolean } = {},
): Generator<Batch> {
  let group: RenderedLike[] = [];
  for (const c of conversations) {
    group.push(c);
    if (group.length === B) {
      yield sftBatch(group, padId, opts);
      group = [];
    }
  }
  if (group.length > 0 && opts.keepLast) yield sftBatch(group, padId, opts);
}

/** Indexable conversations (a task mixture); get(i) renders conversation i. */
export interface ConversationSource {
  readonly length: number;
  get(i: number): RenderedLike;
}

export interface MidState {
  /** Index of the next conversation this rank reads. */
  cursor: number;
  /** Times the cursor has wrapped past the end. */
  epoch: number;
  /** Tokens read but not yet in a batch. */
  buffer: number[];
}

export interface MidBatch extends Batch {
  /** True for the batch in which the dataset ran out: the reference's last step. */
  lastStep: boolean;
}

/** Mid-training packing with a resumable state, like the pretraining loader's. */
export class MidPacker {
  private queue: TokenQueue;
  private cursor: number;
  private epoch: number;
  private rank: number;
  private world: number;
  private maxEpochs: number;

  constructor(
    private source: ConversationSource,
    readonly B: number,
    readonly T: number,
    opts: { rank?: number; worldSize?: number; maxEpochs?: number } = {},
    state?: MidState,
  ) {
    checkShape(B, T);
    if (source.length === 0) throw new DataError("mid-training has no conversations to pack (the task mixture is empty)");
    this.rank = opts.rank ?? 0;
    this.world = opts.worldSize ?? 1;
    this.maxEpochs = opts.maxEpochs ?? 1;
    if (!(this.rank >= 0 && this.rank < this.world)) throw new RangeError(`rank ${this.rank} of worldSize ${this.world}`);
    this.cursor = state?.cursor ?? this.rank;
    this.epoch = state?.epoch ?? 0;
    this.queue = new TokenQueue(state?.buffer ?? []);
  }

  /** The next (B, T) batch, or null once maxEpochs passes are done. */
  next(): MidBatch | null {
    if (this.epoch >= this.maxEpochs) return null;
    const need = this.B * this.T + 1;
    let lastStep = false;
    while (this.queue.length < need) {
      this.queue.pushAll(this.source.get(this.cursor).ids);
      this.cursor += this.world;
      if (this.cursor >= this.source.length) {
        this.cursor -= this.source.length;
        this.epoch++;
        lastStep = this.epoch >= this.maxEpochs;
      }
    }
    return { ...toBatch(this.queue.take(need), this.B, this.T), lastStep };
  }

  state(): MidState {
    return { cursor: this.cursor, epoch: this.epoch, buffer: this.queue.toArray() };
  }
}
