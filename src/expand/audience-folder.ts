/**
 * One campaign's output folder (audience.csv, audience.parquet, summary.json) written as one
 * unit: into a temporary sibling folder that then replaces it, so an interrupted or failed run
 * never leaves new files beside old ones. summary.json, written last, records the size and
 * SHA-256 of the audience files, so a reader (merge) can tell a folder whose files disagree.
 */
import { performance } from 'node:perf_hooks';
import { UserError } from '../util/errors.js';
import { dropTempFolder, openTempFolder, swapFolderIn } from '../util/folder-swap.js';
import { writeAudience, type Audience } from './audience.js';
import { writeSummary, type ExpandSummary } from './summary.js';

/**
 * Write `audience` and `summary` as folder `dir`; `summary.seconds.write` becomes the
 * seconds since `since` (performance.now()) once the audience files are written.
 */
export function writeAudienceFolder(dir: string, audience: Audience, summary: ExpandSummary, since: number): void {
  const tmp = openTempFolder(dir, 'audience folder');
  try {
    summary.files = writeAudience(tmp, audience);
    summary.seconds.write = (performance.now() - since) / 1000;
    writeSummary(tmp, summary);
    swapFolderIn(tmp, dir, 'audience folder');
  } catch (e) {
    dropTempFolder(tmp);
    // the temporary folder is gone: name the destination the user knows
    if (e instanceof UserError) e.message = e.message.split(tmp).join(dir);
    throw e;
  }
}
