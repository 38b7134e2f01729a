// What the soak holds open, in one place so that it is all let go whatever happens: the gateways
// and the local Lambda endpoint it started, their temporary DATA_DIRs, the image server, the HTTP
// clients and the timers.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';

import type { RunningGateway } from '../lib';
import { Client } from './client';

export const held: {
  gateway?: RunningGateway;
  gatewayChild?: ChildProcess;
  dataDir?: string;
  imageServer?: Server;
  /** The fault phase's processes and catalogue: its gateway (Lambda backend) and the local Lambda endpoint. */
  faultGateway?: RunningGateway;
  lambdaLocal?: RunningGateway;
  faultDataDir?: string;
} = {};
export const clients = new Set<Client>();
export const timers = new Set<NodeJS.Timeout>();

/** The soak's gateway stopped (killed if it will not stop) and its temporary DATA_DIR removed. */
export async function stopSoakGateway(): Promise<void> {
  if (held.gateway) await held.gateway.stop(10_000);
  held.gateway = undefined;
  if (held.dataDir) rmSync(held.dataDir, { recursive: true, force: true });
  held.dataDir = undefined;
}

/** The fault phase's gateway, then the function it calls, stopped; its DATA_DIR removed. */
export async function stopFaultProcesses(): Promise<void> {
  if (held.faultGateway) await held.faultGateway.stop(10_000);
  held.faultGateway = undefined;
  if (held.lambdaLocal) await held.lambdaLocal.stop(5_000);
  held.lambdaLocal = undefined;
  if (held.faultDataDir) rmSync(held.faultDataDir, { recursive: true, force: true });
  held.faultDataDir = undefined;
}

/** Always: every process stopped (killed if it will not stop), clients and the image server closed, the temp DATA_DIRs removed. */
export async function cleanUp(): Promise<void> {
  for (const timer of timers) clearInterval(timer);
  for (const client of clients) client.close();
  held.imageServer?.close();
  held.imageServer?.closeAllConnections();
  await stopSoakGateway();
  await stopFaultProcesses();
}

/**
 * At this process's exit, whatever happened (an exception past every handler included): no
 * gateway outlives it and no temporary catalogue stays behind.
 */
export function killEverythingLeft(): void {
  for (const child of [held.gatewayChild, held.faultGateway?.child, held.lambdaLocal?.child]) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const dir of [held.dataDir, held.faultDataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
}

export function newClient(origin: string, timeoutMs: number, keepAlive = true): Client {
  const client = new Client(new URL(origin), timeoutMs, keepAlive);
  clients.add(client);
  return client;
}

export function closeClient(client: Client): void {
  client.close();
  clients.delete(client);
}
