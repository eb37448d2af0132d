// The only door from the page to the inference engine (src/engine/session.ts): loading a
// checkpoint + tokenizer from a FileStore onto the page's WebGPU device, and the chat
// session that streams a reply piece by piece.
export { ChatSession, loadChatModel } from "../../src/engine/session.ts";
export type { ChatMode, LoadedChatModel, ReplyOptions, ReplyPiece, StopReason } from "../../src/engine/session.ts";
