/** Where the gateway's log lines go: a message and, optionally, the error behind it (stack included). */
export type Logger = (message: string, error?: unknown) => void;

export const stderrLogger: Logger = (message, error) => {
  const detail = error instanceof Error ? ` ${error.stack ?? error.message}` : error === undefined ? '' : ` ${String(error)}`;
  process.stderr.write(`${new Date().toISOString()} ${message}${detail}\n`);
};
