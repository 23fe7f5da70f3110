"""The study's metrics on hand-made curves and predictions."""
import numpy as np
import pytest

from tfprune import metrics


def test_prune_potential_takes_largest_passing_ratio_of_a_non_monotone_curve():
    ratios = [0.2, 0.4, 0.6, 0.8, 0.9]
    errors = [0.100, 0.108, 0.104, 0.120, 0.200]  # 0.4 fails, 0.6 passes again
    assert metrics.prune_potential(ratios, errors, parent_error=0.100, delta=0.5) == 0.6


def test_prune_potential_is_zero_when_nothing_passes_and_delta_widens_it():
    ratios, errors = [0.5, 0.9], [0.2, 0.3]
    assert metrics.prune_potential(ratios, errors, parent_error=0.1, delta=0.5) == 0.0
    assert metrics.prune_potential(ratios, errors, parent_error=0.1, delta=10) == 0.5
    assert metrics.prune_potential(ratios, errors, parent_error=0.1, delta=20) == 0.9


def test_prune_potential_boundary_is_inclusive_and_negative_delta_demands_better():
    assert metrics.prune_potential([0.5], [0.105], parent_error=0.1, delta=0.5) == 0.5
    assert metrics.prune_potential([0.5], [0.1], parent_error=0.1, delta=-0.5) == 0.0
    assert metrics.prune_potential([0.5], [0.09], parent_error=0.1, delta=-0.5) == 0.5


def test_excess_error_is_the_extra_harm_of_the_shift():
    # Parent: 10% -> 30% under the shift; pruned: 11% -> 41%: 10 points of excess.
    assert metrics.excess_error(0.41, 0.11, 0.30, 0.10) == pytest.approx(0.10)
    assert metrics.excess_error(0.30, 0.10, 0.30, 0.10) == 0.0


def test_zero_intercept_slope_recovers_a_linear_trend():
    ratios = np.array([0.2, 0.5, 0.8])
    assert metrics.zero_intercept_slope(ratios, 0.3 * ratios) == pytest.approx(0.3)
    assert metrics.zero_intercept_slope([0.0], [1.0]) == 0.0


def test_accuracy_and_agreement():
    labels = np.array([0, 1, 2, 3])
    assert metrics.accuracy([0, 1, 0, 3], labels) == 0.75
    assert metrics.agreement([0, 1, 0, 3], [0, 2, 0, 3]) == 0.75
