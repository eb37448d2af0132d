// Conversations kept in IndexedDB (idb-keyval), one per model (keyed by the loader's label,
// e.g. "tiny-sft · step 24"): the chat view saves after every reply, edit and mode switch,
// and restores the conversation when the same model is loaded again (after a reload too).
// A browser without IndexedDB (some private windows) just does not keep them.
import { createStore, del, get, set, type UseStore } from "idb-keyval";
import type { ChatMode } from "./chat_model.ts";
import type { Message } from "../../src/tokenizer/chat.ts";

export interface SavedConversation<Turn> {
  mode: ChatMode;
  system: string;
  /** What the page shows. */
  turns: Turn[];
  /** What the model is given next time (the session's history). */
  messages: Message[];
  savedAt: string;
}

let store: UseStore | null = null;
const db = () => (store ??= createStore("nanochat-lab-chat", "conversations"));

export async function saveConversation<Turn>(model: string, c: SavedConversation<Turn>): Promise<void> {
  try {
    await (c.turns.length ? set(model, c, db()) : del(model, db()));
  } catch { /* no IndexedDB: conversations last as long as the page */ }
}

export async function loadConversation<Turn>(model: string): Promise<SavedConversation<Turn> | null> {
  try {
    const c = await get<SavedConversation<Turn>>(model, db());
    return c && Array.isArray(c.turns) && Array.isArray(c.messages) ? c : null;
  } catch {
    return null;
  }
}
