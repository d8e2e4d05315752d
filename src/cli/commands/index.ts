/** The registry of subcommands: one module per command. */
import type { Command } from 'commander';

export type Register = (program: Command) => void;

export const commands: Register[] = [];
