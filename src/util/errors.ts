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

/** What the file system's codes mean, for the one-line message. */
const FS_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENOTDIR: 'a file stands where a folder is needed',
  EISDIR: 'is a folder, not a file',
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
  ENOTEMPTY: 'folder not empty',
  EMFILE: 'too many open files',
  EXDEV: 'cannot rename across file systems',
  EIO: 'input/output error',
};

/** A file-system error (it has an errno code such as ENOSPC). */
export function isFsError(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code in FS_REASONS;
}

/**
 * A file-system failure as a one-line UserError naming the path: `out/x.arrow: cannot write
 * (ENOSPC: no space left on the device)`. Anything that is not a file-system error passes
 * through unchanged.
 */
export function fsError(path: string, doing: string, e: unknown): Error {
  if (e instanceof UserError || !isFsError(e)) return e as Error;
  return new UserError(`${path}: cannot ${doing} (${e.code}: ${FS_REASONS[e.code!]})`);
}
