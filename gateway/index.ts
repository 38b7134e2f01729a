// The process entry: the only place that reads the environment, listens on a port and handles signals.
import type { AddressInfo } from 'node:net';

import { EnvReader } from '../functions/options';
import { stderrLogger } from './common/log';
import { configFromEnv, listenFromEnv } from './config';
import { createGateway } from './gateway';
import { GatewayHost } from './host';
import { shopifyFromEnv } from './shopify';

async function main(): Promise<void> {
  const config = configFromEnv();
  const listen = listenFromEnv();
  const gateway = await createGateway(config);
  const host = new GatewayHost(gateway, { shopify: shopifyFromEnv(new EnvReader()) });
  const address = await host.listen(listen.port, listen.host);
  const model = gateway.model.info;
  const tiers = gateway
    .backendStatus()
    .tiers.map(
      (tier) => `${tier.kind}${tier.role === 'spillover' ? ' spillover' : ''} (${tier.state}${tier.device ? `, ${tier.device}` : ''})`,
    )
    .join(' with ');
  stderrLogger(`clip-gateway serving ${model.name} (${model.dim} dims, ${model.dtype}) on ${tiers} at ${openableUrl(address)}/graphql`);

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

/** A URL a person can open: "all interfaces" (:: or 0.0.0.0) is not an address a browser can visit. */
function openableUrl(address: AddressInfo): string {
  const host = ['::', '0.0.0.0'].includes(address.address)
    ? 'localhost'
    : address.family === 'IPv6'
      ? `[${address.address}]`
      : address.address;
  return `http://${host}:${address.port}`;
}

main().catch((error: unknown) => {
  stderrLogger('clip-gateway could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
