// Jest runs each test file in its own V8 context, with its own Float32Array and friends.
// onnxruntime-node's native code makes output tensors with the host's constructors, and its
// `instanceof` checks then fail inside the sandbox. Sharing the host's typed-array constructors
// makes the sandbox behave like a plain Node process, which is what production is.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class SharedTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArraysEnvironment;
