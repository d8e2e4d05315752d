import type { Command } from 'commander';
import { campaignToOnnx } from '../../export/onnx-campaign.js';
import { checkpointToOnnx, onnxInputNames, ONNX_OPSET } from '../../model/onnx-export.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { checkOutputFile } from '../../util/output-paths.js';
import { configFrom, type CommonOpts, withConfigOptions } from '../common.js';

interface ExportOpts extends CommonOpts {
  model: string;
  out: string;
  campaign?: string;
  users?: string;
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('export-onnx')
      .description('write the model as an ONNX graph (a batch of user rows in, scores out) for ONNX Runtime in Spark, Flink or a serving system')
      .requiredOption('--model <ckpt>', 'checkpoint (.safetensors)')
      .requiredOption('--out <file>', 'output .onnx file')
      .option('--campaign <file>', 'a campaign file: export the model adapted to it (as expand adapts), its task fields baked in; needs -m CFG')
      .option('--users <table>', 'with --campaign: the user table its seeds are looked up in (default: the dataset\'s)'),
  ).action(async (opts: ExportOpts) => {
    checkOutputFile(opts.out, '--out', [opts.model, opts.campaign, opts.users, opts.config]);
    let bytes: Uint8Array;
    let inputs: string[];
    let task: Record<string, number> | undefined;
    if (opts.campaign) {
      const r = await campaignToOnnx(configFrom(opts), opts.model, opts.campaign, opts.users);
      bytes = r.bytes;
      inputs = onnxInputNames(r.layout, true);
      task = r.task;
    } else {
      const r = checkpointToOnnx(opts.model);
      bytes = r.bytes;
      inputs = onnxInputNames(r.layout, false);
    }
    writeFileAtomic(opts.out, bytes);
    const summary = { out: opts.out, bytes: bytes.byteLength, opset: ONNX_OPSET, inputs, output: 'score', ...(task ? { task } : {}) };
    process.stdout.write(
      opts.json ? `${JSON.stringify(summary)}\n` : `wrote ${opts.out} (${bytes.byteLength} bytes, opset ${ONNX_OPSET}); inputs: ${inputs.join(', ')}; output: score${task ? `; task baked in: ${JSON.stringify(task)}` : ''}\n`,
    );
  });
}
