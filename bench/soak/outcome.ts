// Judging answers: what an HTTP answer was (its status, its error codes, its data), whether it is
// what was asked for, and the sorts of refusal the gateway may give.
import type { Answer } from './client';

export interface GraphqlAnswer {
  data?: Record<string, unknown> | null;
  errors?: { message?: string; extensions?: { code?: string } }[];
}

export interface Outcome {
  ok: boolean;
  /** HTTP status, or `timeout` / `connection` when there was none. */
  status: string;
  /** extensions.code of each GraphQL error, and `userErrors:<code>` for each payload userError. */
  codes: string[];
  /** Why it is not ok (first error message, or what the shape check found). */
  problem?: string;
  data?: Record<string, unknown>;
  retryAfter?: string;
}

export const has = (o: Outcome, code: string) => o.codes.includes(code) || o.codes.includes(`userErrors:${code}`);
export const overloaded = (o: Outcome) => has(o, 'OVERLOADED');
export const rateLimited = (o: Outcome) => o.status === '429' || has(o, 'RATE_LIMITED');
/** The one kind of 5xx the gateway may answer with: 503 refusing the whole request as OVERLOADED. */
export const explicitOverload = (o: Outcome) => o.status === '503' && overloaded(o);
export const bad5xx = (o: Outcome) => Number(o.status) >= 500 && !explicitOverload(o);

export type Check = (data: Record<string, unknown>) => string | undefined;

export function judge(answer: Answer, check?: Check): Outcome {
  if (answer.kind !== 'response')
    return { ok: false, status: answer.kind, codes: [], problem: answer.kind === 'connection' ? answer.message : undefined };
  const status = String(answer.status);
  const retryAfter = answer.headers['retry-after'];
  let body: GraphqlAnswer;
  try {
    body = JSON.parse(answer.text) as GraphqlAnswer;
  } catch {
    return { ok: false, status, codes: ['NOT_JSON'], problem: answer.text.slice(0, 200), retryAfter };
  }
  const codes = (body.errors ?? []).map((e) => e.extensions?.code ?? 'NO_CODE');
  const data = body.data ?? undefined;
  // Mutation payloads (Shopify-style) carry their failures in userErrors, not errors.
  for (const value of Object.values(data ?? {})) {
    const userErrors = (value as { userErrors?: { code?: string; message?: string }[] } | null)?.userErrors;
    for (const e of userErrors ?? []) codes.push(`userErrors:${e.code ?? 'NO_CODE'}`);
  }
  const firstMessage =
    body.errors?.[0]?.message ??
    Object.values(data ?? {})
      .flatMap((v) => (v as { userErrors?: { message?: string }[] } | null)?.userErrors ?? [])
      .map((e) => e.message)[0];
  if (answer.status < 200 || answer.status >= 300 || codes.length > 0 || !data) {
    return { ok: false, status, codes, problem: firstMessage ?? answer.text.slice(0, 200), data, retryAfter };
  }
  const problem = check?.(data);
  return { ok: problem === undefined, status, codes: problem === undefined ? [] : ['WRONG_ANSWER'], problem, data, retryAfter };
}
