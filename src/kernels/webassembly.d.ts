/**
 * The slice of the WebAssembly JS API the engine uses. TypeScript ships these types only in
 * its DOM libs, which this Node project does not load.
 */
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  interface Memory {
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
  var Memory: {
    prototype: Memory;
    new (descriptor: MemoryDescriptor): Memory;
  };
  interface Module {}
  var Module: {
    prototype: Module;
    new (bytes: ArrayBufferView | ArrayBuffer): Module;
  };
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  var Instance: {
    prototype: Instance;
    new (module: Module, imports?: Record<string, Record<string, unknown>>): Instance;
  };
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
}
