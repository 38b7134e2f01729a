import { StoreError } from '../port';

/**
 * Which failures of the PostgreSQL store mean "the database is not there for us right now"
 * (STORE_UNAVAILABLE), and the sentence a caller may show for each. The sentences name no host,
 * port, user, SQL or driver message: those stay in `cause`, for the log.
 */

const UNREACHABLE = 'The catalogue database cannot be reached.';
const TOO_SLOW = 'The catalogue database did not answer in time.';
const CREDENTIALS = "The catalogue database refused the gateway's credentials.";
const NO_DATABASE = 'The catalogue database does not exist.';
const RESTARTING = 'The catalogue database is shutting down or starting up.';
const NO_RESOURCES = 'The catalogue database is out of resources (connections, memory or disk).';
const BUSY = 'The catalogue database is busy with a conflicting change; try again.';
const CLOSED = 'The catalogue store is closed.';

/** Socket and DNS error codes of Node: the connection could not be made or was lost. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'ENOENT', // a Unix socket path that is not there
]);

/** SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) that say the database is unavailable. */
function sentenceForSqlState(state: string): string | undefined {
  if (state.startsWith('08')) return UNREACHABLE; // connection exception
  if (state === '28000' || state === '28P01') return CREDENTIALS; // invalid authorization, bad password
  if (state === '3D000') return NO_DATABASE; // invalid_catalog_name
  if (state === '57P01' || state === '57P02' || state === '57P03') return RESTARTING; // admin/crash shutdown, cannot connect now
  if (state === '57014') return TOO_SLOW; // query_canceled: statement_timeout
  if (state.startsWith('53')) return NO_RESOURCES; // too many connections, out of memory, disk full
  if (state === '40001' || state === '40P01' || state === '55P03') return BUSY; // serialization failure, deadlock, lock timeout
  return undefined;
}

/** Messages of node-postgres and its pool that carry no code. */
function sentenceForDriverMessage(message: string): string | undefined {
  if (/timeout|timed out/i.test(message)) return TOO_SLOW; // "Query read timeout", "timeout exceeded when trying to connect"
  if (/Connection terminated|not queryable|Connection ended/i.test(message)) return UNREACHABLE;
  if (/after calling end on the pool/i.test(message)) return CLOSED;
  return undefined;
}

/** The sentence for a failure that means the database is unavailable, or undefined for any other failure. */
export function unavailableSentence(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return code === 'ETIMEDOUT' ? TOO_SLOW : UNREACHABLE;
    if (/^[0-9A-Z]{5}$/.test(code)) {
      const sentence = sentenceForSqlState(code);
      if (sentence) return sentence;
    }
  }
  // Node's happy-eyeballs connect reports one failure per address tried.
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const sentence = unavailableSentence(inner);
      if (sentence) return sentence;
    }
  }
  if (typeof code !== 'string' && typeof message === 'string') return sentenceForDriverMessage(message);
  return undefined;
}

/** `error` as STORE_UNAVAILABLE when it means the database is unavailable; otherwise `error` itself. */
export function toStoreError(error: unknown): unknown {
  if (error instanceof StoreError) return error;
  const sentence = unavailableSentence(error);
  return sentence ? new StoreError('STORE_UNAVAILABLE', sentence, { cause: error }) : error;
}
