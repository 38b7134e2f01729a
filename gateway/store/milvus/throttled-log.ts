/** Failures logged at most once per period a kind, each saying how many of its kind were left out. */
export class ThrottledLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: (message: string) => void,
    private readonly everyMs: number,
  ) {}

  warn(kind: string, message: string): void {
    const now = Date.now();
    const last = this.last.get(kind);
    if (last && now - last.at < this.everyMs) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    this.log(suppressed > 0 ? `${message} (and ${suppressed.toLocaleString('en-US')} more like it since the last such message)` : message);
  }
}
