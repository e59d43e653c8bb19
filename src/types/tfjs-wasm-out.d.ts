// The Emscripten outputs that tfjs-backend-wasm ships without type declarations.
declare module '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js' {
  const factory: (config: Record<string, unknown>) => Promise<unknown>;
  export default factory;
}
declare module '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js' {
  export const wasmWorkerContents: string;
}
declare module '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js' {
  const factory: (config: Record<string, unknown>) => Promise<unknown>;
  export default factory;
}
