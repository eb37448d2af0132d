// docs/scripts_reference.md is every command's --help: regenerated here and compared, so a
// flag added, removed or reworded without `deno task docs` fails, naming the command.
import assert from "node:assert/strict";
import { COMMANDS, REFERENCE, scriptsReference } from "../../src/cli/scripts_reference.ts";
import { ROOT } from "./tiny_run.ts";

Deno.test({
  name: "scripts reference: docs/scripts_reference.md equals every command's --help (run 'deno task docs' after changing a flag)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { text, sections } = await scriptsReference();
    assert.equal(sections.size, COMMANDS.length);
    // Every task in deno.json is on the page.
    const tasks = Object.keys(JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks).filter((t) => t !== "check");
    for (const t of tasks) assert.ok(sections.has(t), `deno task ${t} is missing from ${REFERENCE}`);
    assert.ok(sections.get("train base")!.includes("--num-iterations"));
    const committed = await Deno.readTextFile(`${ROOT}${REFERENCE}`);
    if (committed !== text) {
      const stale = [...sections].filter(([, help]) => !committed.includes("```text\n" + help + "\n```")).map(([c]) => c);
      assert.fail(`${REFERENCE} is out of date for: ${stale.join(", ") || "its index"}; run 'deno task docs' and commit it`);
    }
  },
});
