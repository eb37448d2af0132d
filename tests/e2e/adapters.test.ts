// `deno task adapters`: the Vulkan devices Mesa's device-select layer lists, each probed in
// a child process under MESA_VK_DEVICE_SELECT, and the default adapter alone without it.
import assert from "node:assert/strict";
import { parseDeviceList } from "../../src/cli/adapters.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function adapters(env: Record<string, string> = {}) {
  const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", "src/cli/adapters.ts", "--json"], cwd: ROOT, env, stdout: "piped", stderr: "piped" }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

Deno.test("adapters: the device-select layer's list, old and new formats, two cards of one model", () => {
  const text = [
    "selectable devices:",
    '  GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU',
    '  GPU 1: 10de:2204 "NVIDIA GeForce RTX 3090" discrete GPU 0000:01:00.0',
    '  GPU 2: 10DE:2204 "NVIDIA GeForce RTX 3090" discrete GPU 0000:02:00.0',
    "something else",
  ].join("\n");
  assert.deepEqual(parseDeviceList(text), [
    { index: 0, id: "10005:0", name: "llvmpipe (LLVM 15.0.6, 256 bits)", type: "CPU", bus: null },
    { index: 1, id: "10de:2204", name: "NVIDIA GeForce RTX 3090", type: "discrete GPU", bus: "0000:01:00.0" },
    { index: 2, id: "10de:2204", name: "NVIDIA GeForce RTX 3090", type: "discrete GPU", bus: "0000:02:00.0" },
  ]);
  assert.deepEqual(parseDeviceList("no layer here"), []);
});

Deno.test({
  name: "adapters: this machine's lavapipe, probed through MESA_VK_DEVICE_SELECT, and the default adapter without the layer",
  sanitizeResources: false,
  fn: async () => {
    const r = await adapters();
    assert.equal(r.selectable, true);
    const lavapipe = r.adapters.find((a: { name: string }) => a.name.startsWith("llvmpipe"));
    assert.ok(lavapipe, JSON.stringify(r));
    assert.match(lavapipe.id, /^[0-9a-f]+:[0-9a-f]+$/);
    assert.equal(lavapipe.software, true);
    assert.equal(lavapipe.type, "CPU");
    assert.ok(lavapipe.features.includes("shader-f16"), lavapipe.features.join(","));
    assert.ok(lavapipe.limits.maxStorageBufferBindingSize > 0);
    assert.equal(lavapipe.address, `MESA_VK_DEVICE_SELECT=${lavapipe.id} deno task …`);
    assert.equal(lavapipe.error, undefined);

    // NODEVICE_SELECT turns Mesa's layer off: only the default adapter, said to be so.
    const plain = await adapters({ NODEVICE_SELECT: "1" });
    assert.equal(plain.selectable, false);
    assert.equal(plain.adapters.length, 1);
    assert.equal(plain.adapters[0].id, null);
    assert.match(plain.adapters[0].address, /device-select layer is not installed or is disabled/);
    assert.match(plain.adapters[0].description, /llvmpipe/);
  },
});
