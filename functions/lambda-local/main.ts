// `npm run lambda:local`: the CLIP function behind a local Lambda Invoke API, for running the
// gateway's Lambda backend (the real AWS SDK) on one machine.
import { handler, warm } from '../handlers/lambda';
import { EnvReader, integer, nonEmpty } from '../options';
import { LocalLambda } from './server';

async function main(): Promise<void> {
  const read = new EnvReader();
  const port = read.get('LAMBDA_LOCAL_PORT', integer(0, 65535), 9001);
  const host = read.get('LAMBDA_LOCAL_HOST', nonEmpty, '127.0.0.1');
  const functionName = read.get('LAMBDA_FUNCTION_NAME', nonEmpty, 'clip');
  const model = await warm();
  const local = new LocalLambda(handler, { functionName, log: (line) => console.error(line) });
  const origin = await local.listen(port, host);
  // Handlers first: whoever reads the lines below may stop this process at once.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping the local Lambda endpoint`);
    void local.close().then(() => {
      console.error('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  console.error(`Local Lambda endpoint at ${origin}: function ${functionName} serving ${model.info.name} (${model.info.dim} dims)`);
  // The SDK needs a region and credentials even for a local endpoint; any values do.
  console.error(
    `Gateway: INFERENCE_BACKEND=lambda LAMBDA_FUNCTION_NAME=${functionName} AWS_ENDPOINT_URL_LAMBDA=${origin} ` +
      `AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npm start   (or: npm run start:lambda-local)`,
  );
}

main().catch((error: unknown) => {
  console.error(`The local Lambda endpoint could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
