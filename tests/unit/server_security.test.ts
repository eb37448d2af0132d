// Hostile requests against the lab server: path traversal (plain, percent-encoded,
// double-encoded, backslashes), absolute paths, NUL bytes, very long names, symlinks that
// lead out of runs/ or the web build, bad steps and ranges, other methods, foreign Host
// headers. Each must be a 4xx JSON error, and no response may ever contain the secret
// file outside runs/ or /etc/passwd. Traversal is also sent over a raw socket, since
// fetch normalises "../" and "%2e%2e" before sending.
import assert from "node:assert/strict";
import { ASSET_NAME, checkName, parseTarget, resolveInside } from "../../src/server/paths.ts";
import { HttpError } from "../../src/server/http.ts";
import { rawRequest, withServer } from "./server_fixture.ts";

const PASSWD = /root:.*:0:0:/;

/** Sent as is over a socket. */
const RAW_TARGETS = [
  "/api/runs/../../outside/secret.txt",
  "/api/runs/alpha/../../outside/secret.txt",
  "/api/runs/alpha/tokenizer/../../../outside/secret.txt",
  "/api/runs/alpha/tokenizer/../../../../../../../../etc/passwd",
  "/api/runs/%2e%2e/%2e%2e/outside/secret.txt",
  "/api/runs/%2E%2E/evil/secret.txt",
  "/api/runs/alpha/tokenizer/%2e%2e%2f%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
  "/api/runs/alpha/tokenizer/..%2f..%2f..%2fetc%2fpasswd",
  "/api/runs/alpha/tokenizer/%252e%252e%252f%252e%252e%252fsecret.txt",
  "/api/runs/alpha/tokenizer/..\\..\\..\\outside\\secret.txt",
  "/api/runs/alpha\\..\\..\\outside/metrics",
  "/api/runs/%5c..%5c..%5coutside/metrics",
  "/api/runs//etc/passwd",
  "/api/runs/%2Fetc%2Fpasswd",
  "/api/runs/alpha/tokenizer/%2Fetc%2Fpasswd",
  "/api/runs/alpha/checkpoints/4/..%2f..%2f..%2ftokenizer%2fleak.json",
  "/api/runs/alpha/checkpoints/4/%00meta.json",
  "/api/runs/alpha%00/metrics",
  "/api/runs/alpha/tokenizer/tokenizer.json%00.png",
  "/api/runs/%zz/metrics",
  "/../../../../etc/passwd",
  "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
  "/assets/../../outside/secret.txt",
  "/assets/..%2f..%2fleak.txt",
  "/./index.html",
  "//etc/passwd",
];

/** Sent with fetch (after its URL normalisation these are still hostile). */
const FETCH_CASES: [string, RequestInit?][] = [
  ["/api/runs/sib"],
  ["/api/runs/sib/metrics"],
  ["/api/runs/evil"],
  ["/api/runs/evil/metrics"],
  ["/api/runs/evil/metrics/events"],
  ["/api/runs/evil/tokenizer/secret.txt"],
  ["/api/runs/etc"],
  ["/api/runs/etc/tokenizer/passwd"],
  ["/api/runs/delta/metrics"],
  ["/api/runs/delta/samples"],
  ["/api/runs/delta/metrics/events"],
  ["/api/runs/alpha/tokenizer/leak.json"],
  ["/api/runs/alpha/tokenizer/passwd"],
  ["/api/runs/alpha/checkpoints/9/meta.json"],
  ["/api/runs/alpha/checkpoints/9/model.safetensors"],
  ["/leak.txt"],
  ["/.env"],
  ["/assets/.env"],
  ["/%2eenv"],
  ["/api/runs/.hidden"],
  ["/api/runs/-rf"],
  ["/api/runs/a%20b"],
  ["/api/runs/%252e%252e"],
  [`/api/runs/${"a".repeat(300)}`],
  [`/api/runs/alpha/tokenizer/${"b".repeat(5000)}.json`],
  ["/api/runs/zzz"],
  ["/api/runs/zzz/metrics/events"],
  ["/api/runs/alpha/checkpoints/3/meta.json"],
  ["/api/runs/alpha/checkpoints/x/meta.json"],
  ["/api/runs/alpha/checkpoints/4.0/meta.json"],
  ["/api/runs/alpha/checkpoints/99999999999999999999/meta.json"],
  ["/api/runs/alpha/checkpoints/4/model.safetensors", { headers: { range: "bytes=999999999-" } }],
  ["/api/runs/alpha/checkpoints/4/model.safetensors", { headers: { range: "bytes=../etc/passwd" } }],
  ["/api/runs/alpha/tokenizer/tokenizer.json", { headers: { range: "lines=1-2" } }],
  ["/api/runs", { method: "POST", body: "{}" }],
  ["/api/runs/alpha", { method: "DELETE" }],
  ["/api/runs/alpha/tokenizer/tokenizer.json", { method: "PUT", body: "x" }],
  ["/", { method: "OPTIONS" }],
  ["/api/runs/alpha/metrics", { method: "PATCH", body: "x" }],
];

function assertSafe(what: string, status: number, type: string | null, body: string, secret: string) {
  assert.ok(status >= 400 && status < 500, `${what}: status ${status} (${body.slice(0, 200)})`);
  assert.equal(type, "application/json", `${what}: content-type`);
  const parsed = JSON.parse(body);
  assert.equal(typeof parsed.error, "string", `${what}: {"error": ...}`);
  assert.ok(parsed.error.length > 10, `${what}: a message`);
  assert.ok(!body.includes(secret), `${what}: leaked the secret`);
  assert.doesNotMatch(body, PASSWD, `${what}: leaked /etc/passwd`);
}

Deno.test("lab security: raw request lines with traversal, encodings, backslashes and NUL are 4xx JSON and never leak", () =>
  withServer(async ({ server, fx }) => {
    for (const target of RAW_TARGETS) {
      const r = await rawRequest(server.port, target);
      assertSafe(`GET ${target}`, r.status, r.headers.get("content-type") ?? null, r.body, fx.secret);
    }
    // Absolute-form target and a foreign Host (DNS rebinding) while bound to loopback.
    for (const [target, host] of [["/api/runs", "evil.example:80"], ["/api/health", "attacker.test"]]) {
      const r = await rawRequest(server.port, target, { headers: { Host: host } });
      assertSafe(`Host ${host}`, r.status, r.headers.get("content-type") ?? null, r.body, fx.secret);
      assert.match(r.body, /Host/);
    }
    for (const host of ["localhost", `localhost:${server.port}`, "[::1]:1", "app.localhost"]) {
      const r = await rawRequest(server.port, "/api/health", { headers: { Host: host } });
      assert.equal(r.status, 200, host);
    }
    const head = await rawRequest(server.port, "/api/runs/../../outside/secret.txt", { method: "HEAD" });
    assert.ok(head.status >= 400 && head.status < 500);
    assert.equal(head.body, "");
  }));

Deno.test("lab security: links out of runs/ and the web build, bad names, steps, ranges and methods are 4xx JSON", () =>
  withServer(async ({ url, fx }) => {
    for (const [path, init] of FETCH_CASES) {
      const r = await fetch(url + path, init);
      const body = await r.text();
      assertSafe(`${init?.method ?? "GET"} ${path.slice(0, 80)}`, r.status, r.headers.get("content-type"), body, fx.secret);
      if (init?.method && init.method !== "GET") {
        assert.equal(r.status, 405);
        assert.equal(r.headers.get("allow"), "GET, HEAD");
      }
    }
    // Readable runs next to hostile links still answer, without what the links point to.
    for (const path of ["/api/runs", "/api/runs/delta", "/api/runs/alpha/checkpoints", "/api/runs/alpha", "/"]) {
      const r = await fetch(url + path);
      const body = await r.text();
      assert.equal(r.status, 200, path);
      assert.ok(!body.includes(fx.secret), `${path}: leaked the secret`);
      assert.doesNotMatch(body, PASSWD, path);
    }
    const delta = await (await fetch(`${url}/api/runs/delta`)).json();
    assert.equal(delta.info, null);
    assert.match(delta.error, /run\.json is a link that leads outside/);
  }));

Deno.test("lab security: parseTarget and checkName reject what they must and keep what they may", () => {
  assert.deepEqual(parseTarget("http://h/api/runs/a.b_c-1/metrics?after=3").segments, ["api", "runs", "a.b_c-1", "metrics"]);
  assert.equal(parseTarget("http://h/api/runs/x/metrics/events?after=3").query.get("after"), "3");
  assert.deepEqual(parseTarget("http://h/").segments, []);
  assert.deepEqual(parseTarget("http://h/api/runs/").segments, ["api", "runs"]);
  assert.deepEqual(parseTarget("http://h/a%2Db").segments, ["a-b"], "escapes of allowed characters decode");
  assert.deepEqual(parseTarget("http://h/a%252e%252e").segments, ["a%2e%2e"], "decoded once only");
  for (const bad of ["/..", "/a/../b", "/%2e%2e", "/%2E.", "/.", "/a\\b", "/a%5cb", "/a%2fb", "/a%00", "//x", "/a//b", "/%e0%a4%a", "/%"]) {
    assert.throws(() => parseTarget(`http://h${bad}`), HttpError, bad);
  }
  for (const ok of ["a", "A9", "run-1", "step_000100", "model.safetensors", "a..b", "x".repeat(255)]) assert.equal(checkName(ok, "name"), ok);
  for (const bad of ["", ".", "..", ".git", "-x", "_x", "a/b", "a\\b", "a\0b", "a b", "é", "a:b", "x".repeat(256), "%2e"]) {
    assert.throws(() => checkName(bad, "name"), (e: unknown) => e instanceof HttpError && e.status === 400, JSON.stringify(bad));
  }
  assert.equal(checkName("_commonjsHelpers-Bx1_9aZq.js", "asset", ASSET_NAME), "_commonjsHelpers-Bx1_9aZq.js");
  for (const bad of [".env", ".", "..", "a/b", "a b", "a\0b", "-x"]) assert.throws(() => checkName(bad, "asset", ASSET_NAME), HttpError, JSON.stringify(bad));
});

Deno.test("lab security: resolveInside refuses a badly named or over-long entry even when it exists", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "lab_resolve_" }));
  try {
    const long = "x".repeat(256);
    for (const name of ["a b", ".hidden", "ok"]) await Deno.mkdir(`${root}/${name}`); // (256 characters is past the file system's limit)
    assert.deepEqual(await resolveInside(root, ["ok"]), { ok: true, path: `${root}/ok` });
    for (const name of ["a b", ".hidden", long]) assert.deepEqual(await resolveInside(root, [name]), { ok: false, reason: "missing" }, name.slice(0, 20));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
