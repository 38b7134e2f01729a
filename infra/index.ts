// The CDK app's building blocks, for use from other CDK apps or tests.
export {
  checkModelDir,
  cudaImageExcludes,
  DEFAULT_MODEL_DIR,
  findRepoRoot,
  functionImageExcludes,
  gatewayImageExcludes,
  REPO_ROOT,
} from './assets';
export {
  CATALOGUE_KINDS,
  CatalogueDatabase,
  DATABASE_NAME,
  DATABASE_PORT,
  DATABASE_SUBNET_GROUP,
  DATABASE_TLS_QUERY,
  DATABASE_USER,
} from './stacks/catalogue-database';
export type { CatalogueDatabaseProps, CatalogueKind } from './stacks/catalogue-database';
export { ClipFunctionStack, MODEL_PATH_IN_IMAGE } from './stacks/clip-function-stack';
export type { ClipFunctionAlarms, ClipFunctionStackProps } from './stacks/clip-function-stack';
export { GATEWAY_PORT, GatewayStack } from './stacks/gateway-stack';
export type { GatewayStackProps } from './stacks/gateway-stack';
export { DEFAULT_GPU_AMI_VERSION, DEFAULT_GPU_INSTANCE_TYPE, resolveSageMakerGpuOptions } from './stacks/sagemaker-gpu-options';
export type { ResolvedSageMakerGpuOptions, SageMakerGpuOptions } from './stacks/sagemaker-gpu-options';
export { GPU_VARIANT_NAME, SageMakerGpuStack } from './stacks/sagemaker-gpu-stack';
export type { SageMakerGpuStackProps, SageMakerGpuTarget } from './stacks/sagemaker-gpu-stack';
