// Progress display: a redrawn bar on a terminal, plain periodic lines otherwise.
import type { StepEvent } from "../engine.ts";

const encoder = new TextEncoder();

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const mm = String(m).padStart(2, "0"), ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Shows training progress on `stream` (stderr by default). */
export class Progress {
  #tty: boolean;
  #out: { writeSync(p: Uint8Array): number };
  #epochs: number;
  #lastLoss = NaN;
  #lastDraw = 0;

  constructor(
    epochs: number,
    stream: { writeSync(p: Uint8Array): number; isTerminal(): boolean } = Deno.stderr,
  ) {
    this.#out = stream;
    this.#tty = stream.isTerminal();
    this.#epochs = epochs;
  }

  #write(s: string) {
    this.#out.writeSync(encoder.encode(s));
  }

  /** Called after every step. */
  step(e: StepEvent): void {
    if (e.loss !== undefined) this.#lastLoss = e.loss;
    const rate = e.images / Math.max(e.seconds, 1e-9);
    const eta = (e.seconds / e.batch) * (e.batches - e.batch);
    if (this.#tty) {
      const now = performance.now();
      if (now - this.#lastDraw < 100 && e.batch !== e.batches) return;
      this.#lastDraw = now;
      const width = 30, done = Math.round((e.batch / e.batches) * width);
      const bar = "=".repeat(Math.max(done - 1, 0)) + (done ? ">" : "") + " ".repeat(width - done);
      this.#write(
        `\r\x1b[2Kepoch ${e.epoch}/${this.#epochs} [${bar}] ${e.batch}/${e.batches} ` +
          `loss ${Number.isNaN(this.#lastLoss) ? "-" : this.#lastLoss.toFixed(4)} ${
            rate.toFixed(0)
          } img/s ETA ${clock(eta)}`,
      );
    } else if (e.loss !== undefined) {
      this.#write(
        `epoch ${e.epoch}/${this.#epochs} step ${e.step} (${e.batch}/${e.batches}) loss ${
          e.loss.toFixed(4)
        } ` +
          `${rate.toFixed(0)} img/s ETA ${clock(eta)}\n`,
      );
    }
  }

  /** Clears the bar before a normal line is printed. */
  clear(): void {
    if (this.#tty) this.#write("\r\x1b[2K");
  }
}
