// Public surface of the tokenizer package (runtime-agnostic).
export {
  DEFAULT_DOC_CAP,
  DEFAULT_MAX_CHARS,
  DEFAULT_VOCAB_SIZE,
  MAX_VOCAB_SIZE,
  type EncodeOptions,
  SPECIAL_TOKENS,
  type SpecialToken,
  Tokenizer,
  TokenizerError,
  type TokenizerTrainOptions,
} from "./tokenizer.ts";
export { capTexts, ChunkCounter, cropText, trainMerges, type TrainOptions, type TrainResult } from "./train.ts";
export { forEachChunk, SPLIT_PATTERN, SPLIT_PATTERN_JS, splitChunks, splitRegex } from "./regex.ts";
export { type ContentPart, type Conversation, describeRendered, type Message, renderConversation, renderForCompletion, type Rendered } from "./chat.ts";
export { CountingPool, EncoderPool, type FlatIds, type PoolOptions } from "./pool.ts";
export { DEFAULT_TOKENIZER_DIR, loadTokenizer, saveTokenizer, TOKEN_BYTES_JSON, TOKENIZER_JSON, TOKENIZER_TIKTOKEN } from "./store.ts";
export { type TokenizerFile } from "./serialize.ts";
