"""Calibration and functional-similarity metrics on hand-made probability arrays."""
import numpy as np
import pytest

from tfprune import metrics


def test_ece_is_zero_for_calibrated_and_the_gap_for_overconfident_predictions():
    # 10 inputs at confidence 0.8, 8 of them right: calibrated.
    probabilities = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert metrics.expected_calibration_error(probabilities, labels) == pytest.approx(0.0)
    # Same confidence, only half right: off by 0.3.
    labels = np.array([0] * 5 + [1] * 5)
    assert metrics.expected_calibration_error(probabilities, labels) == pytest.approx(0.3)


def test_ece_weights_bins_by_their_share_of_inputs():
    probabilities = np.array([[0.95, 0.05]] * 2 + [[0.55, 0.45]] * 2)
    labels = np.array([0, 0, 1, 1])  # bin 0.95: acc 1 (gap 0.05); bin 0.55: acc 0 (gap 0.55)
    assert metrics.expected_calibration_error(probabilities, labels) == pytest.approx(0.3)


def test_negative_log_likelihood():
    probabilities = np.array([[0.5, 0.5], [0.25, 0.75]])
    assert metrics.negative_log_likelihood(probabilities, [0, 1]) == pytest.approx(
        -(np.log(0.5) + np.log(0.75)) / 2)


def test_softmax_is_stable_and_normalised():
    probabilities = metrics.softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    np.testing.assert_allclose(probabilities, [[0.5, 0.5], [0.25, 0.75]])


def test_output_distances_l2_and_linf():
    outputs, reference = [[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]
    assert metrics.softmax_l2(outputs, reference) == pytest.approx(np.sqrt(2) / 2)
    assert metrics.softmax_linf(outputs, reference) == pytest.approx(0.5)
