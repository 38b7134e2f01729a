import { gatewayCommand, readSettings, UsageError, type SageMakerLocalSettings } from '../../../functions/sagemaker-local/settings';

/** `npm run sagemaker:local`'s settings: flag over variable over default, and errors naming what the user typed. */
describe('sagemaker-local settings', () => {
  const settings = (argv: string[], env: Record<string, string> = {}) => readSettings(argv, env) as SageMakerLocalSettings;

  it('has defaults that match npm run start:sagemaker-local', () => {
    expect(settings([])).toEqual({
      port: 9002,
      host: '127.0.0.1',
      endpointName: 'clip',
      componentName: 'clip',
      copies: 1,
      wakeMs: 10_000,
      startingMs: 0,
      invocationTimeoutMs: 60_000,
      region: 'us-east-1',
      accessKeyId: 'local',
      secretAccessKey: 'local',
    });
  });

  it('takes each option from its flag, else its variable', () => {
    const env = {
      SAGEMAKER_LOCAL_PORT: '0',
      SAGEMAKER_LOCAL_COPIES: '2',
      SAGEMAKER_LOCAL_WAKE_MS: '5000',
      SAGEMAKER_LOCAL_IDLE_MS: '60000',
      SAGEMAKER_ENDPOINT: 'gpu',
      SAGEMAKER_INFERENCE_COMPONENT: 'gpu-ic',
      SAGEMAKER_LOCAL_FUNCTION_URL: 'http://127.0.0.1:8080',
      AWS_REGION: 'eu-west-1',
    };
    expect(settings(['--copies', '0', '--wake-ms=250', '--starting-ms', '100', '--component', 'other'], env)).toMatchObject({
      port: 0,
      copies: 0,
      wakeMs: 250,
      startingMs: 100,
      idleMs: 60_000,
      endpointName: 'gpu',
      componentName: 'other',
      functionUrl: 'http://127.0.0.1:8080',
      region: 'eu-west-1',
    });
    expect(readSettings(['--help'], {})).toBe('help');
  });

  it('names the flag or the variable and quotes the value', () => {
    const refused = (argv: string[], env: Record<string, string> = {}) => {
      try {
        readSettings(argv, env);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused(['--copies', 'none'])).toBe('--copies must be a non-negative integer, got "none"');
    expect(refused([], { SAGEMAKER_LOCAL_COPIES: '1.5' })).toBe('SAGEMAKER_LOCAL_COPIES must be a non-negative integer, got "1.5"');
    expect(refused(['--wake-ms', '0'])).toBe('--wake-ms must be an integer from 1 to 2147483647, got "0"');
    expect(refused(['--function-url', 'localhost:8080'])).toBe('--function-url must be an http(s) URL, got "localhost:8080"');
    expect(refused([], { SAGEMAKER_LOCAL_PORT: 'nine' })).toBe('SAGEMAKER_LOCAL_PORT must be an integer from 0 to 65535, got "nine"');
    expect(refused(['--copy', '0'])).toMatch(/^Unknown option '--copy'/);
  });

  it('prints the gateway command with everything the SDK needs, never a real secret', () => {
    const local = settings([]);
    expect(gatewayCommand(local, 'http://127.0.0.1:9002')).toBe(
      'INFERENCE_BACKEND=sagemaker SAGEMAKER_ENDPOINT=clip SAGEMAKER_INFERENCE_COMPONENT=clip ' +
        'AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:9002 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local ' +
        'AWS_SECRET_ACCESS_KEY=local SPILLOVER_BACKEND=local npm start',
    );
    const real = settings([], { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG' });
    const command = gatewayCommand(real, 'http://127.0.0.1:9002');
    expect(command).toContain('AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"');
    expect(command).not.toContain('wJalrXUtnFEMI');
  });
});
