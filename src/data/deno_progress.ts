// DENO-ONLY: a progress bar for downloads on stderr. On a terminal it redraws one line
// (at most 10 times a second); in logs and pipes it prints a plain line every few seconds.

const MB = 1e6;

export interface ProgressOptions {
  write?: (text: string) => void;
  tty?: boolean;
  /** Seconds between lines when not on a terminal. */
  lineEvery?: number;
  /** What the files are called ("shards", "files"). */
  unit?: string;
  /** Milliseconds (for tests: a clock that does not move by itself). */
  now?: () => number;
}

export class Progress {
  private sizes = new Map<string, { total: number; have: number }>();
  private filesDone = 0;
  private skipped = 0;
  private started: number;
  private lastDraw = -Infinity;
  private now: () => number;
  private unit: string;
  private write: (text: string) => void;
  private tty: boolean;
  private lineEvery: number;
  /** Bytes received in this run (not counting what .partial files already held). */
  bytesDone = 0;

  constructor(readonly files: number, opts: ProgressOptions = {}) {
    const enc = new TextEncoder();
    this.write = opts.write ?? ((t) => Deno.stderr.writeSync(enc.encode(t)));
    this.tty = opts.tty ?? Deno.stderr.isTerminal();
    this.lineEvery = opts.lineEvery ?? 5;
    this.unit = opts.unit ?? "shards";
    this.now = opts.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** A response arrived: the file is `total` bytes (-1 unknown) and we already hold `have`. */
  setSize(key: string, total: number, have: number): void {
    this.sizes.set(key, { total, have });
    this.draw(false);
  }

  add(key: string, n: number): void {
    const s = this.sizes.get(key);
    if (s) s.have += n;
    this.bytesDone += n;
    this.draw(false);
  }

  finish(_key: string): void {
    this.filesDone++;
    this.draw(true);
  }

  skip(): void {
    this.filesDone++;
    this.skipped++;
    this.draw(true);
  }

  end(): void {
    if (this.filesDone === 0 && this.bytesDone === 0) return; // nothing happened: no empty bar
    this.draw(true);
    if (this.tty) this.write("\n");
  }

  line(): string {
    let have = 0, total = 0, known = 0;
    for (const s of this.sizes.values()) {
      have += s.have;
      if (s.total > 0) total += s.total, known++;
    }
    // Files not started yet count as the average size of the ones that have.
    const unstarted = Math.max(0, this.files - this.skipped - this.sizes.size);
    const whole = Math.max(have, total + (known > 0 ? (total / known) * unstarted : 0));
    const frac = this.filesDone === this.files ? 1 : whole > 0 ? have / whole : 0;
    const secs = (this.now() - this.started) / 1000;
    const rate = this.bytesDone / Math.max(secs, 1e-3);
    const width = 24;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, "-");
    const eta = rate > 0 && frac < 1 ? ` eta ${Math.round((whole - have) / rate)}s` : "";
    return `[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${this.filesDone}/${this.files} ${this.unit} ` +
      `${(have / MB).toFixed(1)}/${(whole / MB).toFixed(1)} MB ${(rate / MB).toFixed(1)} MB/s${eta}`;
  }

  private draw(force: boolean): void {
    const now = this.now();
    const every = this.tty ? 100 : this.lineEvery * 1000;
    if (!force && now - this.lastDraw < every) return;
    this.lastDraw = now;
    this.write(this.tty ? `\r${this.line()}\x1b[K` : `${this.line()}\n`);
  }
}
