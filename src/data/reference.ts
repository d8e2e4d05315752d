/**
 * The reference scorers synth writes beside the truth (see synth-world.ts): where each one's
 * scores are found, in stage-2 parts and in campaigns/truth.arrow.
 */

/** category: knows the campaign's latent category, not the campaign; agnostic: one score per user for every ad. */
export const REFERENCES = ['category', 'agnostic'] as const;
export type ReferenceName = (typeof REFERENCES)[number];

/** How tables of audiences name them. */
export const REFERENCE_LABEL: Record<ReferenceName, string> = { category: 'category-level', agnostic: 'ad-agnostic' };

/** The float64 extra column of a stage-2 part that carries each reference's probability. */
export const REFERENCE_EXTRA: Record<ReferenceName, string> = { category: 'p_category', agnostic: 'p_agnostic' };

/** truth.arrow's column of the ad-agnostic scores: one for every campaign. */
export const AGNOSTIC_COLUMN = 'agnostic';

/** truth.arrow's column of campaign `campaign`'s category-level scores (a campaign name cannot hold ":", so it never names a campaign). */
export function categoryColumn(campaign: string): string {
  return `${campaign}:category`;
}

/** The truth.arrow column of a reference for campaign `campaign`. */
export function truthColumn(ref: ReferenceName, campaign: string): string {
  return ref === 'category' ? categoryColumn(campaign) : AGNOSTIC_COLUMN;
}

/** Whether a truth.arrow column holds a reference's scores rather than a campaign's truth. */
export function isReferenceColumn(name: string): boolean {
  return name === AGNOSTIC_COLUMN || name.endsWith(':category');
}
