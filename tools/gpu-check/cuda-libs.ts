import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The opt-in for GPU hosts that reach only the npm registry. onnxruntime-node's install script
 * fetches the CUDA provider's libraries from NuGet (Microsoft.ML.OnnxRuntime.Gpu.Linux); the npm
 * package below carries ONNX Runtime 1.29.0's build of the same two libraries (for Unity). They
 * fit onnxruntime-node 1.29.0's native library, not the project's 1.30.0, so they are installed
 * with that release in a directory of their own, never into the project.
 *
 * Read from the package itself: its libonnxruntime_providers_cuda.so needs libcublasLt.so.13,
 * libcublas.so.13, libcurand.so.10 and libcudart.so.13 (ldd), that is CUDA 13 and a driver that
 * supports it, and loads cuDNN at run time.
 */
export const NPM_CUDA_LIBS = {
  onnxruntimeNode: '1.29.0',
  name: 'com.github.asus4.onnxruntime.linux-x64-gpu',
  version: '0.4.9',
  /** Where the package keeps the libraries. */
  path: join('Plugins', 'Linux', 'x64'),
  libraries: ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'],
};

/** The report's words for where the CUDA provider's libraries came from. */
export function cudaLibsLabel(kind: 'installed' | 'npm', dir?: string): string {
  if (kind === 'installed') return 'installed onnxruntime-node (NuGet via its install script)';
  return `npm package ${NPM_CUDA_LIBS.name}@${NPM_CUDA_LIBS.version} with onnxruntime-node@${NPM_CUDA_LIBS.onnxruntimeNode} (in ${dir})`;
}

const versionIn = (packageDir: string): string | undefined => {
  try {
    return (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
};

/**
 * Installs onnxruntime-node@1.29.0 and the npm package into `dir` (`npm install --prefix DIR
 * --no-save --ignore-scripts`: onnxruntime-node's own install script, which would go to NuGet,
 * does not run), unless a previous run left them there, then copies the two libraries to where
 * onnxruntime-node 1.29 loads them from (bin/napi-v6/linux/x64). Returns that onnxruntime-node's
 * package directory.
 */
export async function installNpmCudaLibs(dir: string, say: (line: string) => void): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`--cuda-libs npm: ${NPM_CUDA_LIBS.name} carries Linux x64 libraries, and this is ${process.platform}/${process.arch}`);
  }
  const modules = join(dir, 'node_modules');
  const onnxruntimeNode = join(modules, 'onnxruntime-node');
  const source = join(modules, NPM_CUDA_LIBS.name);
  const wanted = [`onnxruntime-node@${NPM_CUDA_LIBS.onnxruntimeNode}`, `${NPM_CUDA_LIBS.name}@${NPM_CUDA_LIBS.version}`];
  const installed = () => versionIn(onnxruntimeNode) === NPM_CUDA_LIBS.onnxruntimeNode && versionIn(source) === NPM_CUDA_LIBS.version;
  if (installed()) {
    say(`Using ${wanted.join(' and ')} installed in ${dir}`);
  } else {
    mkdirSync(dir, { recursive: true });
    say(`Installing ${wanted.join(' and ')} into ${dir} (about 1.1 GB once unpacked) ...`);
    await npm(['install', '--prefix', dir, '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', ...wanted]);
    if (!installed()) throw new Error(`npm install finished but ${dir} does not hold ${wanted.join(' and ')}`);
  }
  const target = join(onnxruntimeNode, 'bin', 'napi-v6', 'linux', 'x64');
  for (const library of NPM_CUDA_LIBS.libraries) {
    const from = join(source, NPM_CUDA_LIBS.path, library);
    if (!existsSync(from))
      throw new Error(`${NPM_CUDA_LIBS.name}@${NPM_CUDA_LIBS.version} in ${dir} has no ${join(NPM_CUDA_LIBS.path, library)}`);
    const to = join(target, library);
    if (!existsSync(to) || statSync(to).size !== statSync(from).size) copyFileSync(from, to);
  }
  return onnxruntimeNode;
}

/**
 * Runs the npm that runs this command (npm run sets npm_execpath to its npm-cli.js), else npm
 * from the PATH; its output goes to stderr, so that stdout stays the report.
 */
function npm(args: string[]): Promise<void> {
  const cli = process.env.npm_execpath;
  const [command, prefix] = cli ? (/\.[cm]?js$/.test(cli) ? [process.execPath, [cli]] : [cli, []]) : ['npm', []];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 2, 2] });
    child.on('error', (error) => reject(new Error(`npm could not be started (${command}): ${error.message}`)));
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`npm ${args[0]} failed (${signal ?? `exit ${code}`}); its output is above`)),
    );
  });
}
