"""The study's metrics, on plain arrays: accuracy, agreement, prune potential, excess error,
and the per-distribution output metrics (OUTPUT_METRICS) every network is measured by.

Errors and accuracies are fractions in [0, 1]; `delta` is in percentage points, as the
study states it (0.5 = half a point).
"""
import dataclasses
from typing import Callable

import numpy as np


def accuracy(predictions, labels):
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def agreement(predictions, reference_predictions):
    """Fraction of inputs on which two networks predict the same top-1 label."""
    return float(np.mean(np.asarray(predictions) == np.asarray(reference_predictions)))


def chance_ceiling(classes, count, sigmas=3.0):
    """The accuracy (0-1) a network guessing uniformly among `classes` stays below on
    `count` images but for a `sigmas`-sigma fluke: above it, the network learnt something."""
    chance = 1.0 / classes
    return chance + sigmas * np.sqrt(chance * (1.0 - chance) / count)


def prune_potential(prune_ratios, errors, parent_error, delta=0.5):
    """Largest tested prune ratio whose error is at most the parent's plus delta points.

    The curve need not be monotone: any passing ratio counts, as in the study. With no
    passing ratio the potential is 0.
    """
    passing = [r for r, e in zip(prune_ratios, errors) if e <= parent_error + delta / 100.0 + 1e-12]
    return float(max(passing, default=0.0))


def excess_error(pruned_error_shifted, pruned_error_nominal,
                 parent_error_shifted, parent_error_nominal):
    """How much more the shift hurts the pruned network than it hurts its parent."""
    return ((pruned_error_shifted - pruned_error_nominal)
            - (parent_error_shifted - parent_error_nominal))


def group_excess_error(error, parent_error, train, test):
    """The study's excess error of one network: `excess_error` of the mean errors over
    the `test` and `train` groups of distributions ({distribution: error} mappings of the
    network and its parent); None when a group is empty."""
    if not train or not test:
        return None

    def mean(errors, group):
        return float(np.mean([errors[d] for d in group]))
    return excess_error(mean(error, test), mean(error, train), mean(parent_error, test),
                        mean(parent_error, train))


def zero_intercept_slope(prune_ratios, values):
    """Least-squares slope of values ~ slope * prune_ratio (the study's linear fit)."""
    x = np.asarray(prune_ratios, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    denominator = float(np.dot(x, x))
    return float(np.dot(x, y) / denominator) if denominator else 0.0


def softmax(logits):
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def expected_calibration_error(probabilities, labels, bins=15):
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by count."""
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    bin_of = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = bin_of == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def negative_log_likelihood(probabilities, labels):
    picked = probabilities[np.arange(len(probabilities)), np.asarray(labels)]
    return float(-np.mean(np.log(np.maximum(picked, 1e-12))))


def softmax_l2(probabilities, reference_probabilities):
    """Mean L2 distance between two networks' softmax outputs."""
    difference = np.asarray(probabilities) - np.asarray(reference_probabilities)
    return float(np.mean(np.linalg.norm(difference, axis=-1)))


def softmax_linf(probabilities, reference_probabilities):
    """Mean L-infinity distance between two networks' softmax outputs."""
    difference = np.asarray(probabilities) - np.asarray(reference_probabilities)
    return float(np.mean(np.abs(difference).max(axis=-1)))


@dataclasses.dataclass(frozen=True)
class OutputMetric:
    """A number per network and distribution, computed from its softmax outputs and the
    labels, or (`versus_parent`) the parent's softmax outputs. Its network's stored outputs
    hold it as "<distribution>:<key>" (a stored file without it is computed again), and
    results.json reports it as `name`: {distribution: value}."""
    key: str
    name: str
    compute: Callable
    versus_parent: bool = False


OUTPUT_METRICS = (
    OutputMetric("ece", "ece", expected_calibration_error),
    OutputMetric("nll", "nll", negative_log_likelihood),
    OutputMetric("l2", "softmax_l2_to_parent", softmax_l2, versus_parent=True),
    OutputMetric("linf", "softmax_linf_to_parent", softmax_linf, versus_parent=True),
)
