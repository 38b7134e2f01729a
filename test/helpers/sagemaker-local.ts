// What the SageMaker stand-in's tests and the gateway's SageMaker tests share: the real function's
// HTTP adapter in a child process (built, from dist/, as the container runs it), and the real
// SageMaker Runtime client pointed at a local origin with retries off (a retry would use up the
// next queued fault).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { InvokeEndpointCommand, SageMakerRuntimeClient, type InvokeEndpointCommandInput } from '@aws-sdk/client-sagemaker-runtime';

import { FunctionProcess } from '../../functions/sagemaker-local/function-process';
import { builtEntry } from './build';

export const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
export const ENDPOINT = 'clip-gpu';
export const COMPONENT = 'clip-ic';
export const DESCRIBE = JSON.stringify({ v: 1, kind: 'describe' });

/** The function's HTTP adapter with the bundled tiny CLIP, as SageMaker would run the container. */
export function startFunction(): Promise<FunctionProcess> {
  return FunctionProcess.start({
    command: [process.execPath, builtEntry('functions', 'handlers', 'http.js')],
    env: { CLIP_MODEL_DIR: '', CLIP_MODEL: '', CLIP_INTRA_OP_THREADS: '1' },
    log: () => {},
  });
}

export function sageMakerClient(origin: string, overrides: Partial<ConstructorParameters<typeof SageMakerRuntimeClient>[0]> = {}) {
  return new SageMakerRuntimeClient({ endpoint: origin, region: 'us-east-1', credentials, maxAttempts: 1, ...overrides });
}

/** An InvokeEndpoint call to the stand-in's endpoint and component, with `input` over the defaults. */
export function invokeInput(input: Partial<InvokeEndpointCommandInput> = {}): InvokeEndpointCommandInput {
  return { EndpointName: ENDPOINT, InferenceComponentName: COMPONENT, ContentType: 'application/json', Body: DESCRIBE, ...input };
}

/** The error the SDK throws for this call (fails the test if the call succeeds). */
export async function rejection(client: SageMakerRuntimeClient, input: InvokeEndpointCommandInput): Promise<Record<string, unknown>> {
  try {
    await client.send(new InvokeEndpointCommand(input));
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('the call succeeded');
}

/** A container that records what reaches it and answers as told: to see exactly what is forwarded. */
export class RecordingContainer {
  readonly seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
  answer: { status: number; headers: Record<string, string>; body?: Buffer } = { status: 200, headers: {} };
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      this.seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      // Echoes the body unless told what to answer.
      res.writeHead(this.answer.status, this.answer.headers).end(this.answer.body ?? body);
    });
  });

  listen(): Promise<string> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(this.server.address() as AddressInfo).port}`)),
    );
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
