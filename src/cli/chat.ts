// `deno task chat`: chat with a checkpoint (KV-cache engine, tools) — not built yet; it says so
// clearly instead of failing
// with a missing-module error.
import { runMain, UsageError } from "./args.ts";

runMain(() => {
  throw new UsageError("deno task chat (the KV-cache engine with tools) is not built yet; meanwhile 'deno task eval base --bpb' evaluates checkpoints");
});
