// The wasm kernels' exports. Memory is imported (shared); the engine owns all addresses.
export { gemm, gemmRows, gemmRowsFits, gemmScratchBytes } from './gemm';
export { biasReluForward, reluBackward, colSum } from './elementwise';
export { poolRows, scatterRows } from './embedding';
export { gatherRows, adamRows, scaleRows } from './rows';
export { fieldMean, fieldMeanBackward, mixForward, mixBackward, addScaled } from './mixing';
