// Sends one invocation to the container's POST /invocations, as SageMaker's front end does: the
// body and the Content-Type, Accept and custom-attributes headers go through; what comes back is
// the container's status, content type and body, or why there was none.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ContainerCall {
  body: Buffer;
  contentType?: string;
  accept?: string;
  customAttributes?: string;
  /** Ends the call (the invocation timed out, or the stand-in is closing). */
  signal: AbortSignal;
}

export type ContainerAnswer =
  | { kind: 'answered'; status: number; contentType?: string; customAttributes?: string; body: Buffer }
  /** No answer: refused, reset, or ended by the signal. */
  | { kind: 'unreachable'; reason: string };

/** Posts to `{functionUrl}/invocations`. Never rejects: a failure is an answer of its own. */
export function callContainer(functionUrl: string, call: ContainerCall): Promise<ContainerAnswer> {
  const url = new URL(`${functionUrl.replace(/\/+$/, '')}/invocations`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { 'content-length': call.body.length };
    if (call.contentType) headers['content-type'] = call.contentType;
    if (call.accept) headers.accept = call.accept;
    if (call.customAttributes) headers['x-amzn-sagemaker-custom-attributes'] = call.customAttributes;
    const req = send(url, { method: 'POST', headers, signal: call.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const attributes = res.headers['x-amzn-sagemaker-custom-attributes'];
        resolve({
          kind: 'answered',
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          customAttributes: Array.isArray(attributes) ? attributes.join(',') : attributes,
          body: Buffer.concat(chunks),
        });
      });
      res.on('error', (error) => resolve({ kind: 'unreachable', reason: error.message }));
      // Cut off mid-answer: no 'end', and perhaps no 'error' either.
      res.on('close', () => {
        if (!res.complete) resolve({ kind: 'unreachable', reason: 'the connection closed before the answer ended' });
      });
    });
    req.on('error', (error) => resolve({ kind: 'unreachable', reason: error.message }));
    req.end(call.body);
  });
}
