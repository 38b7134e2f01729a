// The process entry: the only place that reads the environment, listens on a port and handles signals.
import { stderrLogger } from './common/log';
import { configFromEnv, listenFromEnv } from './config';
import { createGateway } from './gateway';
import { GatewayHost } from './host';

async function main(): Promise<void> {
  const config = configFromEnv();
  const listen = listenFromEnv();
  const gateway = await createGateway(config);
  const host = new GatewayHost(gateway);
  const address = await host.listen(listen.port, listen.host);
  const model = gateway.model.info;
  stderrLogger(
    `clip-gateway serving ${model.name} (${model.dim} dims, ${model.dtype}, ${gateway.backend.kind} backend on ${model.device}) ` +
      `at http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/graphql`,
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stderrLogger(`${signal}: no longer accepting requests; finishing in-flight work`);
    host.stop().then(
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
