// Placeholder so the kernel build has an entry point; real kernels land in this folder.
export function version(): i32 {
  return 1;
}
