// The process entry: the only place that reads the environment, listens on a port and handles signals.
import { Gateway, stderrLogger } from './app';
import { configFromEnv } from './config';

async function main(): Promise<void> {
  const config = configFromEnv();
  const port = Number(process.env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TypeError(`PORT must be a port number: ${JSON.stringify(process.env.PORT)}`);
  const gateway = await Gateway.create({ config });
  const address = await gateway.listen(port, process.env.HOST);
  const model = gateway.services.model.info;
  stderrLogger(
    `clip-gateway serving ${model.name} (${model.dim} dims, ${model.dtype}, ${gateway.backend.kind} backend on ${model.device}) ` +
      `at http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/graphql`,
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stderrLogger(`${signal}: no longer accepting requests; finishing in-flight work`);
    gateway.stop().then(
      () => {
        stderrLogger('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        stderrLogger('shutdown failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  stderrLogger('clip-gateway could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
