/**
 * Progress on stderr, so stdout stays clean for `--json`. On a terminal a bar redraws in place; in a
 * pipe or a log it prints a line at each tenth, so logs stay short.
 */
export class Progress {
  readonly #label: string;
  readonly #tty: boolean;
  #lastTenth = -1;
  #lastDraw = 0;
  #active = false;

  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#tty = stream.isTTY === true;
  }

  update(done: number, total: number, detail = ''): void {
    if (total <= 0) return;
    const fraction = Math.min(1, done / total);
    if (this.#tty) {
      const now = Date.now();
      if (now - this.#lastDraw < 80 && done < total) return;
      this.#lastDraw = now;
      const width = 24;
      const filled = Math.round(fraction * width);
      process.stderr.write(`\r${this.#label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${detail}\x1b[K`);
      this.#active = true;
    } else {
      const tenth = Math.floor(fraction * 10);
      if (tenth === this.#lastTenth) return;
      this.#lastTenth = tenth;
      process.stderr.write(`${this.#label}: ${done}/${total} (${Math.round(fraction * 100)}%)${detail ? ` ${detail}` : ''}\n`);
    }
  }

  done(): void {
    if (this.#tty && this.#active) process.stderr.write('\n');
    this.#active = false;
  }
}
