/** The registry of subcommands: one module per command. */
import type { Command } from 'commander';
import { register as registerImportPkl } from './import-pkl.js';
import { register as registerInspect } from './inspect.js';
import { register as registerSynth } from './synth.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [registerSynth, registerInspect, registerImportPkl];
