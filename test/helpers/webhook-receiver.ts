import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST as a receiver saw it: the raw body, its headers, the parsed event, and whether its signature verified. */
export interface ReceivedDelivery {
  body: string;
  headers: IncomingHttpHeaders;
  event: { id: string; seq: number; productId: string; facet: string; labels: string[]; previousLabels: string[]; source: string } & Record<
    string,
    unknown
  >;
  verified: boolean;
}

/** A status, or a status with headers (a redirect's Location). */
export type Answer = number | { status: number; headers: Record<string, string> };

export interface WebhookReceiver {
  /** http://127.0.0.1:<port>/hook */
  url: string;
  received: ReceivedDelivery[];
  /** Resolves once `count` deliveries have arrived (rejects after `timeoutMs`, a bound for a broken test, not a timing check). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  close(): Promise<void>;
}

/**
 * A real webhook receiver on loopback, verifying each delivery as a receiver of Shopify's webhooks
 * does: the base64 HMAC-SHA256 of the raw body with the shared secret, compared with the header in
 * constant time. `answer` gives each delivery's status (it may hold its answer back); 200 by default.
 */
export async function startWebhookReceiver(
  secret: () => string,
  answer: (delivery: ReceivedDelivery) => Answer | Promise<Answer> = () => 200,
): Promise<WebhookReceiver> {
  const received: ReceivedDelivery[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const expected = createHmac('sha256', secret()).update(raw).digest();
      const given = Buffer.from(String(request.headers['x-clip-gateway-hmac-sha256'] ?? ''), 'base64');
      const delivery: ReceivedDelivery = {
        body: raw.toString('utf8'),
        headers: request.headers,
        event: JSON.parse(raw.toString('utf8')) as ReceivedDelivery['event'],
        verified: given.length === expected.length && timingSafeEqual(given, expected),
      };
      received.push(delivery);
      for (const wake of waiters.splice(0)) wake();
      void Promise.resolve(answer(delivery)).then(
        (result) => (typeof result === 'number' ? response.writeHead(result) : response.writeHead(result.status, result.headers)).end(),
        () => response.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`the receiver got ${received.length} deliveries, not ${count}, within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return received.slice(0, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
