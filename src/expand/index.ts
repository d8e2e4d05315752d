/** Audience expansion as a library: what `metaheac expand` / `merge` and the service call. */
export { expandCampaigns, examplesOf, resolveDataPaths, checkOutDir, DEFAULT_TOP, DEFAULT_MIN_SEEDS, type ExpandOptions, type ExpandProgress, type CampaignResult } from './expand.js';
export { parseCampaign, loadCampaignFile, checkDistinctNames, nameKey, CampaignError, type Campaign, type UidSource, type ExampleSource } from './campaign.js';
export { mergeShards } from './merge.js';
export { readUidList, readExamples, type Examples } from './id-list.js';
export { taskCodes, type TaskCodes } from './task-codes.js';
export { TopN } from './top-n.js';
export { formatScore, parseScore } from './score-format.js';
export { audienceCsv, audienceParquet, audienceUids, readAudienceCsv, writeAudience, AUDIENCE_CSV, AUDIENCE_PARQUET, type Audience } from './audience.js';
export { readSummary, summaryJson, SUMMARY_FILE, HISTOGRAM_BINS, type ExpandSummary, type Quality, type UidCounts } from './summary.js';
export { readTruth, evaluateAudience, type Truth } from './quality.js';
export { findUsers, rowOf, forEachChunk, shardRange, userSchema, tablePool, type FoundUsers, type PoolSource, type UidChunkFn } from './users.js';
export { compareOnTruth, meanComparison, type Arm, type CampaignComparison } from './compare.js';
