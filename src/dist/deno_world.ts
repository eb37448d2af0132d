// DENO-ONLY: rank 0's side of a data-parallel run: it starts ranks 1…W−1 as child
// processes (deno_rank.ts), one per adapter, and reaches them through frames on their
// stdin/stdout (frames.ts). Why processes: Deno's requestAdapter passes only
// powerPreference and forceFallbackAdapter to wgpu, so one process cannot pick the second
// of two adapters, and its workers all get the same one; a child process's environment can
// (Mesa's device-select layer, MESA_VK_DEVICE_SELECT=VENDOR:DEVICE, works with any vendor's
// Vulkan driver; VK_ICD_FILENAMES picks a driver such as the SwiftShader Chromium ships).
//
// A rank that exits, crashes or answers nonsense fails the world at once: every pending and
// later call rejects with that rank's name, adapter and last stderr lines, and close() ends
// the other ranks. A rank whose stdin closes (rank 0 gone) exits by itself.
import { UserError } from "../util/errors.ts";
import type { GPTConfig } from "../model/config.ts";
import { bytesOf, encodeFrame, f32Of, type Frame, FrameReader } from "./frames.ts";
import type { RemoteRanks, WorldMicroBatch } from "./step.ts";

const RANK_SCRIPT = new URL("./deno_rank.ts", import.meta.url).pathname;

export class WorldError extends UserError {
  override name = "WorldError";
}

/** Where a rank runs: the environment that selects its adapter, and a name for logs. */
export interface RankPlacement {
  spec: string;
  env: Record<string, string>;
}

/** Vulkan drivers (ICD files) shipped beside a Chromium, which `--adapters swiftshader` finds. */
export const SWIFTSHADER_ICDS = ["/usr/lib/chromium/vk_swiftshader_icd.json", "/usr/lib/chromium-browser/vk_swiftshader_icd.json", "/opt/google/chrome/vk_swiftshader_icd.json"];

function swiftshaderIcd(): string | null {
  for (const p of SWIFTSHADER_ICDS) {
    try {
      Deno.statSync(p);
      return p;
    } catch { /* next */ }
  }
  return null;
}

/**
 * `--adapters SPEC`: one entry per rank, comma-separated (a single entry is used for every
 * rank; empty: every rank on the default adapter). An entry is `default`; `VENDOR:DEVICE` as
 * `deno task adapters` prints it (MESA_VK_DEVICE_SELECT); `swiftshader` (the SwiftShader
 * Vulkan driver Chromium ships); or `icd:/path/to/driver.json` (VK_ICD_FILENAMES).
 */
export function parsePlacements(spec: string, world: number): RankPlacement[] {
  const entries = spec.trim() ? spec.split(",").map((s) => s.trim()) : ["default"];
  if (entries.length !== 1 && entries.length !== world) {
    throw new WorldError(`--adapters names ${entries.length} adapters for --world ${world}: give one per rank, or one for all`);
  }
  return Array.from({ length: world }, (_, r): RankPlacement => {
    const e = entries.length === 1 ? entries[0] : entries[r];
    if (e === "" || e === "default") return { spec: "default", env: {} };
    if (/^[0-9a-f]+:[0-9a-f]+!?$/i.test(e)) return { spec: e, env: { MESA_VK_DEVICE_SELECT: e } };
    if (e === "swiftshader") {
      const icd = swiftshaderIcd();
      if (!icd) throw new WorldError(`--adapters: rank ${r} asks for swiftshader, but no SwiftShader Vulkan driver was found (looked for ${SWIFTSHADER_ICDS.join(", ")}); install chromium, or use icd:/path/to/vk_swiftshader_icd.json`);
      return { spec: e, env: { VK_ICD_FILENAMES: icd } };
    }
    if (e.startsWith("icd:")) return { spec: e, env: { VK_ICD_FILENAMES: e.slice(4) } };
    throw new WorldError(`--adapters: '${e}' (rank ${r}) is not an adapter: use default, VENDOR:DEVICE from 'deno task adapters', swiftshader, or icd:/path.json`);
  });
}

interface Rank {
  rank: number;
  child: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  frames: FrameReader;
  adapter: string;
  pid: number;
  stderr: string[];
}

export class DenoWorld implements RemoteRanks {
  private failure: WorldError | null = null;
  private failed = Promise.withResolvers<never>();
  private closed = false;

  private constructor(readonly size: number, private ranks: Rank[], readonly adapters: string[]) {
    this.failed.promise.catch(() => {});
  }

  /**
   * Starts ranks 1…W−1 (placements[1…]); `adapter0` is this process's own adapter (rank 0).
   * Resolves once each has its device and model, with every rank's adapter in words.
   */
  static async start(placements: RankPlacement[], init: { cfg: GPTConfig; B: number; T: number }, adapter0: string, log: (line: string) => void): Promise<DenoWorld> {
    const ranks: Rank[] = [];
    const world = new DenoWorld(placements.length, ranks, [adapter0]);
    try {
      for (let r = 1; r < placements.length; r++) {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", RANK_SCRIPT],
          env: { ...placements[r].env, NO_COLOR: "1" },
          stdin: "piped", stdout: "piped", stderr: "piped",
        }).spawn();
        const rank: Rank = { rank: r, child, writer: child.stdin.getWriter(), frames: new FrameReader(child.stdout, `rank ${r}`), adapter: placements[r].spec, pid: child.pid, stderr: [] };
        ranks.push(rank);
        world.watch(rank);
        await world.write(rank, "init", { cfg: init.cfg, B: init.B, T: init.T, rank: r });
      }
      for (const rank of ranks) {
        const ready = await world.expect(rank, "ready");
        rank.adapter = ready.head.adapter as string;
        world.adapters[rank.rank] = rank.adapter;
        log(`rank ${rank.rank}: ${rank.adapter} (pid ${rank.pid}${placements[rank.rank].spec !== "default" ? `, --adapters ${placements[rank.rank].spec}` : ""})`);
      }
    } catch (err) {
      await world.close();
      throw err;
    }
    return world;
  }

  /** Fails the world when the rank exits (at any time) and keeps its last stderr lines. */
  private watch(rank: Rank): void {
    void (async () => {
      const dec = new TextDecoderStream();
      const lines = rank.child.stderr.pipeThrough(dec);
      let tail = "";
      for await (const chunk of lines) {
        tail += chunk;
        const parts = tail.split("\n");
        tail = parts.pop()!;
        for (const l of parts) if (l.trim()) rank.stderr.push(l);
        if (rank.stderr.length > 20) rank.stderr.splice(0, rank.stderr.length - 20);
      }
      if (tail.trim()) rank.stderr.push(tail);
    })().catch(() => {});
    void rank.child.status.then(() => {
      if (this.closed) return;
      // The error frame (if it sent one) says more than the exit; give stderr a moment to drain.
      setTimeout(async () => this.fail(rank, await this.exitReason(rank)), 100);
    });
  }

  /** How the rank's process ended ("was killed (SIGKILL)", "exited with code 1"); waits up to a second for it, else "closed its output". */
  private async exitReason(rank: Rank): Promise<string> {
    const s = await Promise.race([rank.child.status, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    if (!s) return "closed its output";
    return s.signal ? `was killed (${s.signal})` : `exited with code ${s.code}`;
  }

  private fail(rank: Rank, what: string): void {
    if (this.failure) return;
    const last = rank.stderr.slice(-5).join("\n  ");
    this.failure = new WorldError(`rank ${rank.rank} (${rank.adapter}, pid ${rank.pid}) ${what}${last ? `:\n  ${last}` : ""}`);
    this.failed.reject(this.failure);
  }

  private async write(rank: Rank, kind: string, head: Record<string, unknown> = {}, data?: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      for (const part of encodeFrame(kind, head, data)) await Promise.race([rank.writer.write(part), this.failed.promise]);
    } catch (err) {
      if (this.failure) throw this.failure;
      // A broken pipe usually means the rank died: name how it ended when its exit arrives soon.
      const ended = await this.exitReason(rank);
      this.fail(rank, ended === "closed its output" ? `could not be written to (${(err as Error).message})` : ended);
      throw this.failure;
    }
  }

  private async expect(rank: Rank, kind: string): Promise<Frame> {
    if (this.failure) throw this.failure;
    let f: Frame | null;
    try {
      f = await Promise.race([rank.frames.next(), this.failed.promise]);
    } catch (err) {
      if (this.failure) throw this.failure;
      this.fail(rank, `sent something unreadable (${(err as Error).message})`);
      throw this.failure;
    }
    if (f?.kind === "error") this.fail(rank, `failed: ${f.head.message}`);
    else if (!f) this.fail(rank, await this.exitReason(rank));
    else if (f.kind !== kind) this.fail(rank, `answered '${f.kind}' where '${kind}' was due`);
    if (this.failure) throw this.failure;
    return f!;
  }

  async gradients(r: number, micro: WorldMicroBatch[], scale: number): Promise<{ grads: Float32Array; losses: number[] }> {
    const rank = this.ranks[r - 1];
    const weighted = micro.some((m) => m.weights);
    const N = micro[0].inputs.length, per = weighted ? 3 * N : 2 * N;
    const ids = new Int32Array(micro.length * per);
    micro.forEach((m, i) => {
      ids.set(m.inputs, i * per);
      ids.set(m.targets, i * per + N);
      if (weighted) new Float32Array(ids.buffer, (i * per + 2 * N) * 4, N).set(m.weights ?? new Float32Array(N).fill(1));
    });
    await this.write(rank, "gradients", { scale, n: micro.length, weighted }, bytesOf(ids));
    const f = await this.expect(rank, "gradients");
    return { grads: f32Of(f.data), losses: f.head.losses as number[] };
  }

  async broadcastWeights(flat: Float32Array): Promise<void> {
    const data = bytesOf(flat);
    await Promise.all(this.ranks.map((rank) => this.write(rank, "weights", {}, data)));
  }

  /** Ends every rank: stdin closed (they exit), then killed if one has not after 2 s. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.ranks.map(async (rank) => {
      await rank.writer.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          rank.child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 2000);
      await rank.child.status.catch(() => {});
      clearTimeout(timer);
      await rank.child.stdout.cancel().catch(() => {});
    }));
  }
}
