// A process's stderr read as it comes, summarised for the report.

export interface LogSummary {
  lines: number;
  /** Lines mentioning errors, failures, timeouts..., by sort (numbers replaced by #), most frequent first. */
  notable: [string, number][];
  tail: string[];
}

/** Reads a process's stderr as it comes: counts its lines and their sorts, keeps the last 30; never the whole log. */
export function logCollector(): { onLog: (text: string) => void; summary: () => LogSummary } {
  const state = { lines: 0, notable: new Map<string, number>(), tail: [] as string[], partial: '' };
  const onLog = (text: string) => {
    const lines = (state.partial + text).split('\n');
    state.partial = lines.pop()!;
    for (const line of lines) {
      state.lines++;
      state.tail.push(line);
      if (state.tail.length > 30) state.tail.shift();
      if (/error|fail|warn|exception|EMFILE|ECONN|refus|overload|timeout|deadline/i.test(line)) {
        // Timestamps, ids and numbers vary; the sort of line is what is counted.
        const signature = line
          .replace(/^\S*\d{4}-\d\d-\d\dT\S+\s*/, '')
          .replace(/\d+(\.\d+)?/g, '#')
          .slice(0, 200);
        state.notable.set(signature, (state.notable.get(signature) ?? 0) + 1);
      }
    }
  };
  const summary = () => ({ lines: state.lines, notable: [...state.notable].sort((a, b) => b[1] - a[1]).slice(0, 15), tail: state.tail });
  return { onLog, summary };
}
