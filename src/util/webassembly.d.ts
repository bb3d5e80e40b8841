/**
 * The part of the WebAssembly JavaScript API breachkit uses (judge/memory/anchors.ts). Node
 * has the API; TypeScript declares it only in its DOM library, which this project leaves out
 * (it would declare browser globals that Node does not have).
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
}
