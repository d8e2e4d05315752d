/**
 * Errors a user can act on. The CLI prints their message on one line and exits non-zero;
 * anything else is a bug and gets a stack trace.
 */
export class UserError extends Error {
  override name = 'UserError';

  /** Control characters (a column name or pickle global with a newline in it) are escaped: the message stays one line. */
  constructor(message: string) {
    super(message.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1)));
  }
}

/** A data file or directory is missing, malformed or inconsistent. */
export class DataError extends UserError {
  override name = 'DataError';
}

/** A config file or override is invalid. */
export class ConfigError extends UserError {
  override name = 'ConfigError';
}
