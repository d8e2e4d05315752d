/** The registry of subcommands: one module per command. */
import type { Command } from 'commander';
import { register as generateRaw } from './generate-raw.js';
import { register as prepare } from './prepare.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [prepare, generateRaw];
