import { HubApiError } from '@huggingface/hub';

/** Getting a model from the hub or the cache failed; the message says what to do about it. */
export class HubError extends Error {
  override readonly name = 'HubError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What was being fetched, for messages that name it. */
export interface RequestContext {
  repo: string;
  revision: string;
  endpoint: string;
  /** Whether a token was sent (HF_TOKEN or the token file). */
  token: boolean;
  /** The file, when the request was for one. */
  file?: string;
}

const NETWORK_CODES = /^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR)/;

/**
 * An error's message. Duck-typed: fetch's errors come from Node's own realm, which is not the
 * realm of a vm context (jest's), where `instanceof Error` is false for them.
 */
export function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** A request that got no (whole) answer: refused, reset, timed out, cut off mid-body. */
export function isNetworkError(error: unknown): boolean {
  // WebBlob.stream() aborts its stream with the message of the failed fetch, a string.
  if (typeof error === 'string') return true;
  const { name } = (error ?? {}) as { name?: unknown };
  if (name === 'TypeError' && ['fetch failed', 'terminated'].includes(messageOf(error))) return true;
  const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === 'string' && NETWORK_CODES.test(code);
}

/** The hub answered, or could not be reached, in a way trying again soon may fix. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof HubApiError) return error.statusCode >= 500 || error.statusCode === 408 || error.statusCode === 429;
  return isNetworkError(error);
}

const NETWORK_PHRASES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection lost mid-transfer',
};

/** Why a fetch failed, in words and with the system's code ("connection refused (ECONNREFUSED)"): undici hides it in `cause`. */
export function networkCause(error: unknown): string {
  if (typeof error === 'string') return error;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return NETWORK_PHRASES[cause.code] ? `${NETWORK_PHRASES[cause.code]} (${cause.code})` : cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return messageOf(error);
}

/**
 * The hub's answer as a sentence saying what to do: a token for 401, access for 403, the revision
 * or file for 404. Never quotes the token.
 */
export function explainHubError(error: unknown, context: RequestContext): HubError {
  if (error instanceof HubError) return error;
  const { repo, revision, endpoint, file } = context;
  const what = file ? `${file} of ${repo} at ${revision}` : `${repo} at ${revision}`;
  if (!(error instanceof HubApiError)) {
    if (!isNetworkError(error)) {
      return new HubError(`${what} could not be fetched: ${messageOf(error)}`, { cause: error });
    }
    return new HubError(
      `Could not get ${what} from ${endpoint}: ${networkCause(error)}. Check the network (or HF_ENDPOINT, for a mirror); ` +
        'with a cache filled beforehand (npm run model -- pull), HF_HUB_OFFLINE=1 needs no network.',
      { cause: error },
    );
  }
  const answer = `${endpoint} answered ${error.statusCode}: ${error.message}`;
  switch (error.statusCode) {
    case 401:
      return new HubError(
        context.token
          ? `HF_TOKEN was refused for ${what}: the token is not valid, or the repo does not exist. ${answer}`
          : `${what} needs authentication, or does not exist: a gated or private repo needs HF_TOKEN set to an access ` +
              `token of an account that may read it (${endpoint}/settings/tokens; for a gated model, accept its conditions ` +
              `on ${endpoint}/${repo} first). ${answer}`,
        { cause: error },
      );
    case 403:
      return new HubError(
        `The account of HF_TOKEN has no access to ${repo}: request it on ${endpoint}/${repo}, or use a token that may read it. ${answer}`,
        { cause: error },
      );
    case 404:
      return new HubError(
        file
          ? `${repo} has no ${file} at ${revision}. ${answer}`
          : `${repo} has no revision ${revision} (CLIP_MODEL_REVISION: a branch, tag or commit of the repo). ${answer}`,
        { cause: error },
      );
    default:
      return new HubError(`${what} could not be fetched. ${answer}`, { cause: error });
  }
}
