/** The raw competition files `prepare` reads (spec section 7), by role. */
export const RAW_FILES = {
  users: 'userFeature.data',
  ads: 'adFeature.csv',
  stage1: 'train.csv',
  stage2: 'test1_truth.csv',
} as const;

export type RawFileRole = keyof typeof RAW_FILES;
