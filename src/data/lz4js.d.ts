/** The part of lz4js (plain JavaScript, no types of its own) that the Arrow reader uses. */
declare module 'lz4js' {
  /** Decode one LZ4 frame from `src` into `dst`; returns the bytes written. */
  export function decompressFrame(src: Uint8Array, dst: Uint8Array): number;
  /** Encode `src` as one LZ4 frame. */
  export function compress(src: Uint8Array): Uint8Array;
}
