// `npm run sagemaker:local`: the CLIP function behind a local stand-in for a SageMaker endpoint
// with one inference component, for running the gateway's SageMaker tier (the real AWS SDK),
// its scale-to-zero handling and its spillover on one machine.
import { FunctionProcess } from './function-process';
import { LocalSageMaker } from './server';
import { gatewayCommand, readSettings, USAGE, UsageError } from './settings';

async function main(): Promise<void> {
  const settings = readSettings(process.argv.slice(2), process.env);
  if (settings === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const fn = settings.functionUrl === undefined ? await FunctionProcess.start() : undefined;
  const functionUrl = settings.functionUrl ?? fn!.url;
  const local = new LocalSageMaker({
    functionUrl,
    endpointName: settings.endpointName,
    inferenceComponentName: settings.componentName,
    copies: settings.copies,
    wakeMs: settings.wakeMs,
    startingMs: settings.startingMs,
    idleMs: settings.idleMs,
    invocationTimeoutMs: settings.invocationTimeoutMs,
    region: settings.region,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    log: (line) => console.error(line),
  });
  let origin: string;
  try {
    origin = await local.listen(settings.port, settings.host);
  } catch (error) {
    await fn?.stop();
    throw error;
  }
  // Handlers first: whoever reads the lines below may stop this process at once.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping the local SageMaker endpoint`);
    void Promise.all([local.close(), fn?.stop()]).then(() => {
      console.error('stopped');
      process.exit(0);
    });
  };
  void fn?.whenExited().then((code) => {
    if (!stopping) console.error(`the function exited (code ${code}): invocations now get ModelError answers`);
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const copies = `${settings.copies} cop${settings.copies === 1 ? 'y' : 'ies'}`;
  const scaling =
    `scale-out ${settings.wakeMs} ms after a no-capacity failure` +
    (settings.idleMs === undefined ? ', no scale-in' : `, scale-in after ${settings.idleMs} ms idle`);
  console.error(
    `Local SageMaker endpoint at ${origin}: endpoint ${settings.endpointName}, inference component ${settings.componentName}, ` +
      `${copies} (${scaling}), forwarding to ${functionUrl}${fn ? ` (function pid ${fn.pid})` : ''}`,
  );
  console.error(`Gateway: ${gatewayCommand(settings, origin)}   (or: npm run start:sagemaker-local)`);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) console.error(`${message}\n\n${USAGE}`);
  else console.error(`The local SageMaker endpoint could not start: ${message}`);
  process.exit(1);
});
