/** The registry of subcommands: one module per command, in the order --help lists them. */
import type { Command } from 'commander';
import { register as demo } from './demo.js';
import { register as exportOnnx } from './export-onnx.js';
import { register as expand } from './expand.js';
import { register as merge } from './merge.js';
import { register as generateRaw } from './generate-raw.js';
import { register as importPkl } from './import-pkl.js';
import { register as importCheckpoint } from './import-checkpoint.js';
import { register as infer } from './infer.js';
import { register as inspect } from './inspect.js';
import { register as metaGrad } from './meta-grad.js';
import { register as predict } from './predict.js';
import { register as prepare } from './prepare.js';
import { register as report } from './report.js';
import { register as serve } from './serve.js';
import { register as synth } from './synth.js';
import { register as train } from './train.js';
import { register as worker } from './worker.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [demo, train, infer, report, expand, merge, serve, worker, predict, exportOnnx, synth, inspect, prepare, importPkl, importCheckpoint, generateRaw, metaGrad];
