// HTTP: node:http with a keep-alive agent of its own per phase, so that closing a phase's client
// closes its sockets and the gateway's descriptor count can be compared between idle moments.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export type Answer =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; text: string }
  | { kind: 'timeout' }
  | { kind: 'connection'; message: string };

export class Client {
  private readonly agent: Agent;
  inFlight = 0;

  constructor(
    private readonly origin: URL,
    private readonly timeoutMs: number,
    keepAlive = true,
  ) {
    // No socket cap: an open loop must not queue requests in the client, where the gateway
    // would never see them (the cap is --max-in-flight, counted).
    // Idle sockets are closed after 4 s, before the gateway's keep-alive timeout (Node's default 5 s)
    // closes them under a request just sent: that race would count as a connection error.
    this.agent = new Agent({ keepAlive, maxSockets: Infinity, maxFreeSockets: 1024, timeout: 4000 });
  }

  request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: string,
    headers: Record<string, string> = {},
    timeoutMs = this.timeoutMs,
  ): Promise<Answer> {
    return new Promise((resolve) => {
      this.inFlight++;
      let settled = false;
      const done = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight--;
        resolve(answer);
      };
      const req = httpRequest(
        {
          host: this.origin.hostname,
          port: this.origin.port,
          path,
          method,
          agent: this.agent,
          headers: {
            ...(body !== undefined && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            done({ kind: 'response', status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (error) => done({ kind: 'connection', message: error.message }));
          res.on('close', () => {
            if (!res.complete) done({ kind: 'connection', message: 'response cut off' });
          });
        },
      );
      // The whole exchange, not socket inactivity: a gateway that trickles bytes is still a timeout.
      const timer = setTimeout(() => {
        done({ kind: 'timeout' });
        req.destroy();
      }, timeoutMs);
      // On a kept-alive socket, a reset is most likely the gateway closing it as idle just as this
      // request went out (a client-side race, not the gateway failing): said so in the message.
      req.on('error', (error) =>
        done({
          kind: 'connection',
          message: `${(error as NodeJS.ErrnoException).code ?? error.message}${req.reusedSocket ? ' (reused socket)' : ''}`,
        }),
      );
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
