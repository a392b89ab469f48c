/** A one-line progress bar on a terminal; plain lines when stderr is not a TTY. */
export class ProgressBar {
  private readonly started = Date.now();
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly total: number) {}

  note(text: string): void {
    if (this.tty) process.stderr.write(`\r\x1b[2K${text}`);
  }

  update(step: number, metrics?: Record<string, number>): void {
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = step > 0 ? (elapsed / step) * (this.total - step) : 0;
    const shown = metrics
      ? ` loss ${metrics.loss?.toFixed(4)} acc ${metrics['rewards/accuracies']?.toFixed(2)} margin ${metrics['rewards/margins']?.toFixed(4)}`
      : '';
    if (this.tty) {
      const width = 24;
      const filled = Math.round((step / this.total) * width);
      const bar = '█'.repeat(filled) + '·'.repeat(width - filled);
      process.stderr.write(`\r\x1b[2Kstep ${step}/${this.total} ${bar}${shown} ETA ${formatSeconds(eta)}`);
    } else if (metrics) {
      process.stderr.write(`step ${step}/${this.total}${shown} (${formatSeconds(elapsed)} elapsed)\n`);
    }
  }

  finish(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return `${m}:${String(sec).padStart(2, '0')}`;
}
