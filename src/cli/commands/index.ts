/** The registry of subcommands: one module per command. */
import type { Command } from 'commander';
import { register as registerImportPkl } from './import-pkl.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [registerImportPkl];
