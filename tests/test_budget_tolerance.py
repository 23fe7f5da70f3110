"""prune.budget_tolerance: 0 keeps tfprune's exact rule (the smallest knob keeping at least
the budget); the reference's 0.005 takes the first candidate within 0.5% of the target,
else the nearest one tried, relative to all the network's kept parameters."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import structure
from tfprune.methods import budget

L = tf.keras.layers
WEIGHTS = 1000
KEEP = 400


def _network(norm):
    """One Dense layer of WEIGHTS kernel weights, nothing for the rule to remove; with
    `norm`, a BatchNormalization in front adds 2 x WEIGHTS other trainable parameters."""
    inputs = tf.keras.Input((WEIGHTS,))
    x = L.BatchNormalization()(inputs) if norm else inputs
    return tf.keras.Model(inputs, L.Dense(1, use_bias=False)(x))


def _search(kept_per_knob, tolerance, norm=False):
    """The kept count the search settles on, and the knobs it tried, in order; the masks
    of knob i keep kept_per_knob[i] weights. Bisection over [0, 10] tries 10, 5, 2, 3, 4."""
    model = _network(norm)
    scores = [np.random.default_rng(0).random((WEIGHTS, 1))]
    tried = []

    def masks_for(knob):
        tried.append(knob)
        return budget.top_k_masks(scores, kept_per_knob[knob])

    target = budget.Target(KEEP, structure.GraphRule(model), tolerance)
    pruned = budget.search(masks_for, target, 0, len(kept_per_knob) - 1, integer=True)
    return int(pruned.masks[0].sum()), tried


def test_the_reference_rule_takes_the_first_candidate_within_half_a_percent():
    kept = [0, 150, 300, 397, 400, 401, 600, 700, 800, 900, 1000]
    assert _search(kept, 0.005) == (401, [10, 5])  # 401 is within 2 of 400: taken at once
    assert _search(kept, 0.0) == (400, [10, 5, 2, 3, 4])  # tfprune's: exact, found last


def test_the_reference_rule_otherwise_takes_the_nearest_even_below_the_budget():
    kept = [0, 150, 300, 397, 410, 500, 600, 700, 800, 900, 1000]
    assert _search(kept, 0.005)[0] == 397  # 3 short is nearer than 10 over
    assert _search(kept, 0.0)[0] == 410  # the smallest keeping at least the budget


@pytest.mark.parametrize("norm, expected", [(False, 410), (True, 397)])
def test_the_tolerance_is_relative_to_all_kept_parameters(norm, expected):
    """Without BatchNorm the target is 400 parameters (0.5%: 2), with it 2400 (12): 397
    is then within the tolerance, found before 410."""
    kept = [0, 150, 300, 397, 410, 500, 600, 700, 800, 900, 1000]
    kept[4], kept[3] = (410, 397) if norm else (410, 380)
    assert _search(kept, 0.005, norm)[0] == expected
