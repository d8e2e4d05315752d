/**
 * Child side of the loader benchmark: loads one part in a fresh process, so its peak RSS
 * is the loader's own, and prints seconds and memory as JSON.
 */
import { readPart } from '../src/data/arrow-part.js';
import { readSchemaFile } from '../src/data/schema.js';

const [partPath, schemaPath] = process.argv.slice(2);
const schema = readSchemaFile(schemaPath!);
const baselineRss = process.memoryUsage().rss;
const t0 = performance.now();
const part = await readPart(partPath!, schema);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(
  `${JSON.stringify({ rows: part.nRows, tasks: part.tasks.length, seconds, baselineRssBytes: baselineRss, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
