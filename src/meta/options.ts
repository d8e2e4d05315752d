/**
 * The regularisation of meta-training and the options of adaptation, as the config sets
 * them (hyper_parameters.regularization; optim/regularize.ts does the arithmetic).
 */
import type { LoadedConfig } from '../config/config.js';
import type { RegOptions } from '../optim/regularize.js';
import { ConfigError } from '../util/errors.js';

/** The section's values for an Adam of learning rate `lr` (config key `lrKey`). */
function regularization(cfg: LoadedConfig, lr: number, lrKey: string): RegOptions {
  const r = cfg.hyper_parameters.regularization;
  if (r.decoupled) {
    for (const [key, lambda] of [['weight_decay', r.weight_decay], ['embedding_weight_decay', r.embedding_weight_decay]] as const) {
      // AdamW multiplies the weights by 1 - lr·λ every step: at 0 or below they vanish or flip sign
      if (lr * lambda >= 1) {
        throw new ConfigError(`${cfg.source ?? 'config'}: hyper_parameters.regularization.${key} (${lambda}) times ${lrKey} (${lr}) must be below 1 with decoupled: true`);
      }
    }
  }
  return { weightDecay: r.weight_decay, embeddingWeightDecay: r.embedding_weight_decay, decoupled: r.decoupled, frequencyL2: r.frequency_l2, maxNorm: r.max_norm };
}

/** Meta-training's (and the no-meta baseline's) regularisation. */
export function trainRegularization(cfg: LoadedConfig): RegOptions {
  return regularization(cfg, cfg.hyper_parameters.optimizer.global_learning_rate, 'hyper_parameters.optimizer.global_learning_rate');
}

/**
 * Adapting to a campaign (infer, expand, the ONNX export): none, or with
 * regularization.in_adaptation the same regularisation but frequency L2, whose id counts are
 * those of the training rows: inference need not have them, and a campaign's rows hold ids
 * they never counted.
 */
export function adaptRegularization(cfg: LoadedConfig): RegOptions | undefined {
  const hp = cfg.hyper_parameters;
  if (!hp.regularization.in_adaptation) return undefined;
  return { ...regularization(cfg, hp.optimizer.local_test_learning_rate, 'hyper_parameters.optimizer.local_test_learning_rate'), frequencyL2: 0 };
}
