"""The noise prune potential and the excess error as the reference computes them: per
noise draw then averaged, and one value per network from the test and train groups."""
import numpy as np
import pytest

from tfprune import metrics, results


def test_noise_prune_potential_is_the_mean_over_draws_of_each_draws_potential():
    """Two draws, one level: the 50% network passes on draw 0 only, the 80% one on draw 1
    only. Per draw the potentials are 50% and 80% (mean 65%); on the draw-averaged
    accuracy neither passes (0%), the rule tfprune used before."""
    parent = np.array([[0.90, 0.90]])
    cycles = [np.array([[0.90, 0.80]]), np.array([[0.80, 0.90]])]
    ratios = [0.5, 0.8]
    per_draw = results.noise_prune_potentials(ratios, cycles, parent, delta=0.5)
    assert per_draw == [pytest.approx(0.65)]
    averaged = [metrics.prune_potential(ratios, [1 - c.mean() for c in cycles],
                                        1 - parent.mean(), 0.5)]
    assert averaged == [0.0]


def test_noise_prune_potential_has_one_value_per_level():
    parent = np.full((3, 4), 0.9)
    cycles = [np.full((3, 4), 0.9), np.full((3, 4), 0.5)]
    assert results.noise_prune_potentials([0.3, 0.6], cycles, parent, 0.5) == [0.3] * 3


def test_excess_error_compares_the_test_groups_mean_with_the_train_groups():
    parent = {"nominal": 0.10, "fog_3": 0.20, "snow_3": 0.30}
    pruned = {"nominal": 0.12, "fog_3": 0.30, "snow_3": 0.34}
    value = metrics.group_excess_error(pruned, parent, ["nominal"], ["fog_3", "snow_3"])
    # pruned: 0.32 - 0.12 = 0.20; parent: 0.25 - 0.10 = 0.15
    assert value == pytest.approx(0.05)
    by_distribution = [metrics.excess_error(pruned[d], pruned["nominal"], parent[d],
                                            parent["nominal"]) for d in ("fog_3", "snow_3")]
    assert value == pytest.approx(np.mean(by_distribution))  # one train distribution


def test_robust_arm_train_group_of_several_distributions_enters_as_its_mean():
    parent = {"nominal": 0.10, "contrast_3": 0.30, "fog_3": 0.40}
    pruned = {"nominal": 0.10, "contrast_3": 0.40, "fog_3": 0.45}
    value = metrics.group_excess_error(pruned, parent, ["nominal", "contrast_3"], ["fog_3"])
    assert value == pytest.approx((0.45 - 0.25) - (0.40 - 0.20))


def test_excess_error_is_none_without_both_groups():
    errors = {"nominal": 0.1}
    assert metrics.group_excess_error(errors, errors, ["nominal"], []) is None
