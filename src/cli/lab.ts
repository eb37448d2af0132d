// `deno task lab`: the browser lab server — not built yet. It says so clearly instead of failing
// with a missing-module error.
import { runMain, UsageError } from "./args.ts";

runMain(() => {
  throw new UsageError("deno task lab (the browser lab server) is not built yet; the kernel tests already run in Chromium; 'deno task train base' writes runs/ that the lab will read");
});
