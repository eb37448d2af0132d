// Where a Chromium for the browser tests may be: $CHROMIUM_PATH first, then Debian's and
// other common locations. Shared by the test runner (which installs one when none is found)
// and the Playwright helpers (which launch it).
/** Headless Chromium with WebGPU on (SwiftShader where there is no GPU): the browser tests' and `bench tab`'s flags. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** The first candidate that exists, or null. */
export function findChromium(): string | null {
  for (const p of [Deno.env.get("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    if (!p) continue;
    try {
      Deno.statSync(p);
      return p;
    } catch { /* try the next */ }
  }
  return null;
}
