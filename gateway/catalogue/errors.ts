import { ErrorCode, GatewayError, toInputError } from '../common/errors';
import { StoreError } from '../store';

/**
 * A problem with one field of the caller's input, named by its path (`["products", "3", "images",
 * "0", "base64"]`): the mutations turn it into a userError, the queries into a GraphQL error.
 */
export class FieldError extends GatewayError {
  constructor(
    readonly field: string[],
    code: ErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** `products[3].images[0]` for a message, from the field's path. */
export function fieldName(field: readonly string[]): string {
  return field.map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}

/** A store failure as the client sees it: a bad cursor is the caller's; anything else the database's. */
export function fromStoreError(error: unknown, cursorField = 'after'): unknown {
  if (!(error instanceof StoreError)) return error;
  if (error.code === 'BAD_CURSOR')
    return new FieldError([cursorField], ErrorCode.BAD_USER_INPUT, `${cursorField} is not a cursor this gateway made.`);
  if (error.code === 'STORE_UNAVAILABLE')
    return new GatewayError(ErrorCode.STORE_UNAVAILABLE, 'The catalogue database is unavailable; try again later.', { cause: error });
  return new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, 'The catalogue could not complete this request.', { cause: error });
}

/** Runs a store call, turning its failures into errors a client can read. */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fromStoreError(error);
  }
}

/** Any failure of one field's work as a FieldError naming that field (a more precise one is kept). */
export function failure(field: string[], error: unknown): FieldError {
  if (error instanceof FieldError) return error;
  const name = fieldName(field);
  // Named as classify names a failed input: our own errors and the decoder's (an image that is not
  // one) keep their code and reason; anything else is an internal error, worded for a field.
  const named = toInputError(name, error);
  if (named.code !== ErrorCode.INTERNAL_SERVER_ERROR || error instanceof GatewayError)
    return new FieldError(field, named.code, named.message, { cause: named.cause ?? error });
  return new FieldError(field, ErrorCode.INTERNAL_SERVER_ERROR, `${name} could not be processed because of an internal error.`, {
    cause: error,
  });
}
