import { FieldError } from '../../catalogue';
import { ErrorCode, GatewayError } from '../../common/errors';
import type { GatewayContext } from '../../context';
import { UserError } from './payload.type';

/** A failure of one field as a userError; an internal one is logged with its cause, which the client does not see. */
export function userErrorOf(error: FieldError, ctx: GatewayContext): UserError {
  if (error.code === ErrorCode.INTERNAL_SERVER_ERROR) ctx.services.logInternal(error.cause ?? error);
  return UserError.from(error);
}

/** Runs a mutation; a problem with the caller's input becomes userErrors, anything else a GraphQL error. */
export async function userErrorsOf<T>(ctx: GatewayContext, run: () => Promise<T>): Promise<{ value?: T; userErrors: UserError[] }> {
  try {
    return { value: await run(), userErrors: [] };
  } catch (error) {
    if (error instanceof FieldError) return { userErrors: [userErrorOf(error, ctx)] };
    throw error;
  }
}

/**
 * Refuses the operation unless its credentials allow admin operations: an admin key (or, without
 * API_KEYS, a client on this machine). Webhook endpoints say where the catalogue's changes are sent;
 * an import writes a whole file of products in bulk.
 */
export function requireAdmin(ctx: GatewayContext): void {
  const decision = ctx.services.authorizeAdmin(ctx.credentials);
  if (!decision.ok) throw new GatewayError(ErrorCode[decision.code], decision.message);
}
