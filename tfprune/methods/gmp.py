"""GMP, gradual magnitude pruning (Zhu & Gupta 2017), as TF-MOT's `prune_low_magnitude`
runs it: every prunable layer keeps its largest |w|, its sparsity rising during a
cycle's retraining on TF-MOT's PolynomialDecay, from the previous cycle's to the
cycle's target (unstructured, data-free; the same sparsity in every layer, not one
global threshold). The target is reached a while before retraining ends, so that the
final masks are trained with.
"""
import tfprune  # noqa: F401
import tensorflow_model_optimization as tfmot

from tfprune import errors
from tfprune.methods import registry

END = registry.Knob("gmp_end", 0.8, 0.0, 1.0, doc="fraction of a cycle's retraining steps "
                    "by which gmp reaches the target (its last steps train the final masks)")
FREQUENCY = registry.Knob("gmp_frequency", 100, 1, doc="training steps between gmp's mask "
                          "updates (TF-MOT's frequency; fewer in a short retraining)")
POWER = 3  # TF-MOT's and Zhu & Gupta's exponent: fast at first, slow near the target


def schedule(initial_sparsity, final_sparsity, steps, gmp_end=END.default,
             gmp_frequency=FREQUENCY.default):
    """TF-MOT's PolynomialDecay over a cycle of `steps` training steps: its first masks at
    step 1 (TF-MOT counts from 1) at `initial_sparsity`, its last, at `final_sparsity`, by
    step `gmp_end` x `steps`, every `gmp_frequency` steps between (more often where the
    span is shorter than that), so that end_step is an update step."""
    if steps < 2:
        raise errors.ConfigError(
            f"config.prune.retrain_epochs: a cycle's retraining has {steps} training step; gmp "
            "prunes during it and needs 2 or more; raise prune.retrain_epochs")
    span = max(1, int(gmp_end * steps) - 1)
    frequency = min(int(gmp_frequency), span)
    return tfmot.sparsity.keras.PolynomialDecay(
        float(initial_sparsity), float(final_sparsity), begin_step=1,
        end_step=1 + frequency * (span // frequency), power=POWER, frequency=frequency)
