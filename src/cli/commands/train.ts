import type { Command } from 'commander';
import { runTrain } from '../../pipeline/run-train.js';
import { lockFolder } from '../../util/lock.js';
import { cliReporter, configFrom, interruptible, withConfigOptions, withOps, type CommonOpts } from '../common.js';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('train')
      .description('meta-train the general model on the training tasks (PaddleRec: trainer.py -m config.yaml); hyper_parameters.meta=false trains the no-meta baseline'),
  ).action(async (opts: CommonOpts) => {
    interruptible();
    const cfg = configFrom(opts);
    lockFolder(cfg.runner.model_save_path, 'train');
    const res = await withOps(cfg, (ops) => runTrain(cfg, ops, cliReporter));
    if (opts.json) process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    else process.stdout.write(`trained (${res.mode}) ${res.epochs} epoch(s) x ${res.stepsPerEpoch} steps in ${res.seconds.toFixed(1)} s, final loss ${res.finalLoss.toFixed(5)}; checkpoints: ${res.checkpoints.join(', ')}\n`);
  });
}
