import type { Command } from 'commander';
import { checkpointToOnnx, onnxInputNames, ONNX_OPSET } from '../../model/onnx-export.js';
import { writeFileAtomic } from '../../util/atomic.js';

interface ExportOpts {
  model: string;
  out: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('export-onnx')
    .description('write the model as an ONNX graph (a batch of user rows in, scores out) for ONNX Runtime in Spark, Flink or a serving system')
    .requiredOption('--model <ckpt>', 'checkpoint (.safetensors)')
    .requiredOption('--out <file>', 'output .onnx file')
    .option('--json', 'print a summary as JSON')
    .action((opts: ExportOpts) => {
      const { bytes, layout } = checkpointToOnnx(opts.model);
      writeFileAtomic(opts.out, bytes);
      const summary = { out: opts.out, bytes: bytes.byteLength, opset: ONNX_OPSET, inputs: onnxInputNames(layout, false), output: 'score' };
      process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `wrote ${opts.out} (${bytes.byteLength} bytes, opset ${ONNX_OPSET}); inputs: ${summary.inputs.join(', ')}; output: score\n`);
    });
}
