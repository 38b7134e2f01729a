import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { env, listSupportedBackends } from 'onnxruntime-node';

/**
 * Where the loaded onnxruntime-node looks for its native libraries: bin/napi-v6/<platform>/<arch>
 * in its package. Its install script puts the CUDA provider's libraries there (fetched from
 * NuGet), and so does the GPU check's npm path.
 */
export function onnxRuntimeLibraryDir(): string {
  const packageRoot = dirname(dirname(require.resolve('onnxruntime-node')));
  return join(packageRoot, 'bin', 'napi-v6', process.platform, process.arch);
}

/** The CUDA execution provider's library, which onnxruntime-node loads when a session asks for `cuda`. */
export function cudaProviderLibrary(): string {
  const name = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return join(onnxRuntimeLibraryDir(), name);
}

/**
 * Why this onnxruntime-node cannot run the CUDA provider at all, or undefined when it may: the
 * binding is built without CUDA (anything but Linux and Windows on x64), or the provider's
 * library was never installed (the install script downloads it only when asked).
 */
export function cudaProviderAbsence(): string | undefined {
  if (!listSupportedBackends().some((backend) => backend.name === 'cuda')) {
    return `onnxruntime-node ${env.versions.node} for ${process.platform}/${process.arch} is built without the CUDA execution provider`;
  }
  const library = cudaProviderLibrary();
  if (!existsSync(library)) {
    return (
      `the CUDA execution provider library is not installed: ${library} is missing ` +
      '(onnxruntime-node fetches it when installed with --onnxruntime-node-install=cuda12; the project’s .npmrc skips it by default)'
    );
  }
  return undefined;
}

/** The version of the loaded onnxruntime-node package (its native library is the same release). */
export function onnxRuntimeVersion(): string {
  return env.versions.node ?? 'unknown';
}

/**
 * The shared libraries `library` needs that the dynamic linker cannot find (ldd's "=> not found"
 * lines: libcublasLt.so.12, libcudnn.so.9, libcuda.so.1 ...), or undefined when ldd cannot tell
 * (not Linux, no ldd). ONNX Runtime's own error for this case says only "Failed to load shared
 * library"; its log line on stderr names the first missing library, this names all of them.
 */
export function missingLibraries(library: string): Promise<string[] | undefined> {
  if (process.platform !== 'linux') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile('ldd', [library], { timeout: 10_000, encoding: 'utf8' }, (error, stdout) => {
      if (error && stdout === '') return resolve(undefined);
      resolve([...stdout.matchAll(/^\s*(\S+)\s*=>\s*not found/gm)].map((match) => match[1]));
    });
  });
}
