/** The registry of subcommands: one module per command. */
import type { Command } from 'commander';
import { register as infer } from './infer.js';
import { register as predict } from './predict.js';
import { register as train } from './train.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [train, infer, predict];
