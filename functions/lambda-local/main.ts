// `npm run lambda:local`: the CLIP function behind a local Lambda Invoke API, for running the
// gateway's Lambda backend (the real AWS SDK) on one machine.
import { handler, warm } from '../handlers/lambda';
import { LocalLambda } from './server';

async function main(): Promise<void> {
  const port = Number(process.env.LAMBDA_LOCAL_PORT ?? 9001);
  const functionName = process.env.LAMBDA_FUNCTION_NAME ?? 'clip';
  const model = await warm();
  const local = new LocalLambda(handler, { functionName, log: (line) => console.error(line) });
  const origin = await local.listen(port, process.env.LAMBDA_LOCAL_HOST ?? '127.0.0.1');
  console.error(`Local Lambda endpoint at ${origin}: function ${functionName} serving ${model.info.name} (${model.info.dim} dims)`);
  console.error(`Gateway: INFERENCE_BACKEND=lambda LAMBDA_FUNCTION_NAME=${functionName} AWS_ENDPOINT_URL_LAMBDA=${origin} npm start`);
  const stop = () => void local.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(`The local Lambda endpoint could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
