// What a download shows while it runs: a bar per file on a terminal, plain lines in a log.
import { MultiBar, type SingleBar } from 'cli-progress';

/** Told about each file a resolve downloads. */
export interface DownloadProgress {
  /** `file` (`total` bytes) starts downloading, with `from` bytes of it already on disk from an earlier attempt. */
  start(file: string, total: number, from: number): void;
  /** `received` bytes of it are on disk. */
  update(file: string, received: number): void;
  /** It is complete and checked (`ok`), or this attempt failed. */
  end(file: string, ok: boolean): void;
}

/** Bytes as the hub shows them (decimal units). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export interface ConsoleProgressOptions {
  /** Where plain lines go when there is no terminal. */
  log: (line: string) => void;
  /** The terminal the bars are drawn on. Default process.stderr, so stdout stays the command's output. */
  stream?: NodeJS.WriteStream;
  /** Draw bars. Default: whether `stream` is a terminal. */
  tty?: boolean;
  /** Seconds between progress lines of one file without a terminal. Default 10. */
  lineEverySeconds?: number;
}

/** Bars on a terminal (cli-progress), else a line when each file starts and ends and every 10 s between. */
export function consoleProgress(options: ConsoleProgressOptions): DownloadProgress {
  const stream = options.stream ?? process.stderr;
  return (options.tty ?? stream.isTTY === true) ? barProgress(stream) : lineProgress(options.log, (options.lineEverySeconds ?? 10) * 1000);
}

function barProgress(stream: NodeJS.WriteStream): DownloadProgress {
  let multibar: MultiBar | undefined;
  const bars = new Map<string, { bar: SingleBar; started: number; from: number; total: number }>();
  const payload = (received: number, entry: { started: number; from: number; total: number }) => {
    const seconds = (Date.now() - entry.started) / 1000;
    return {
      done: formatBytes(received),
      size: formatBytes(entry.total),
      speed: seconds > 0 ? `${formatBytes(Math.round((received - entry.from) / seconds))}/s` : '',
    };
  };
  return {
    start(file, total, from) {
      multibar ??= new MultiBar({
        format: '{file} [{bar}] {percentage}% {done}/{size} {speed} eta {eta_formatted}',
        stream,
        hideCursor: true,
        clearOnComplete: false,
        barsize: 20,
      });
      const entry = { started: Date.now(), from, total };
      bars.set(file, { ...entry, bar: multibar.create(Math.max(total, 1), from, { file, ...payload(from, entry) }) });
    },
    update(file, received) {
      const entry = bars.get(file);
      entry?.bar.update(received, payload(received, entry));
    },
    end(file) {
      const entry = bars.get(file);
      if (!entry) return;
      entry.bar.stop();
      bars.delete(file);
      if (bars.size === 0) {
        multibar?.stop();
        multibar = undefined;
      }
    },
  };
}

function lineProgress(log: (line: string) => void, everyMs: number): DownloadProgress {
  const files = new Map<string, { started: number; lastLine: number; from: number; total: number; received: number }>();
  return {
    start(file, total, from) {
      const now = Date.now();
      files.set(file, { started: now, lastLine: now, from, total, received: from });
      log(from > 0 ? `Resuming ${file} at ${formatBytes(from)} of ${formatBytes(total)}` : `Downloading ${file} (${formatBytes(total)})`);
    },
    update(file, received) {
      const entry = files.get(file);
      if (!entry) return;
      entry.received = received;
      const now = Date.now();
      if (now - entry.lastLine < everyMs) return;
      entry.lastLine = now;
      const rate = (received - entry.from) / ((now - entry.started) / 1000);
      log(
        `${file}: ${Math.floor((received / entry.total) * 100)}% (${formatBytes(received)} of ${formatBytes(entry.total)}, ${formatBytes(Math.round(rate))}/s)`,
      );
    },
    end(file, ok) {
      const entry = files.get(file);
      files.delete(file);
      if (!entry || !ok) return;
      log(`${file}: ${formatBytes(entry.total)} in ${((Date.now() - entry.started) / 1000).toFixed(1)} s`);
    },
  };
}
