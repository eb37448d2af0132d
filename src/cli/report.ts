// `deno task report`: the report card — not built yet. It says so clearly instead of failing
// with a missing-module error.
import { runMain, UsageError } from "./args.ts";

runMain(() => {
  throw new UsageError("deno task report (the report card) is not built yet; 'deno task train base' writes runs/<run>/metrics.jsonl and run.json that the report will read");
});
