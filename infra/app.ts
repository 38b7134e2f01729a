// The CDK app, named by cdk.json (run with tsx, so `npx cdk synth` needs no build): the CLIP function stack and
// the gateway stack that invokes it. Both are environment-agnostic (no account or region in the
// code, no lookups), so `cdk synth` works offline and `cdk deploy` targets the CLI's account and region.
//
// Settings come from CDK context (`-c modelDir=models/clip-vit-base-patch32`) or, failing that,
// from the environment as CLIP_INFRA_<NAME> (CLIP_INFRA_MODEL_DIR=...). All are optional; settings.ts
// lists every one with its default, and refuses a bad one before any stack is built.
import { App, Duration, Tags } from 'aws-cdk-lib';

import { contextThenEnvironment, readInfraSettings } from './settings';
import { ClipFunctionStack } from './stacks/clip-function-stack';
import { GatewayStack } from './stacks/gateway-stack';
import { SageMakerGpuStack } from './stacks/sagemaker-gpu-stack';

const app = new App();
const settings = readInfraSettings(contextThenEnvironment(app.node));

const clip = new ClipFunctionStack(app, settings.function.name, {
  description: 'clip-gateway: the CLIP function (container image on AWS Lambda) and its alarms.',
  ...settings.function.props,
});

const gpu =
  settings.gpu &&
  new SageMakerGpuStack(app, settings.gpu.name, {
    description: 'clip-gateway: the GPU tier, the CLIP CUDA image on a SageMaker endpoint that scales to zero.',
    ...settings.gpu.props,
  });

new GatewayStack(app, settings.gateway.name, {
  description: 'clip-gateway: the GraphQL gateway on ECS Fargate behind an Application Load Balancer.',
  invokeTarget: clip.invokeTarget,
  gpuTarget: gpu?.target,
  ...settings.gateway.props,
  // The gateway gives up on an invocation after the function's timeout plus the init phase a cold
  // start adds before it (Lambda allows up to 10 s), so the function's own timeout error arrives first.
  remoteTimeout: clip.timeout.plus(Duration.seconds(10)),
});

// For the cost explorer: every resource of every stack carries project=clip-gateway.
Tags.of(app).add('project', 'clip-gateway');
