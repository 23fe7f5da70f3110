"""Whether a run's verdicts can be trusted: checks the study itself does not make.

A prune potential says "pruned networks up to r stay within delta of the parent on D".
Three artefacts can produce that sentence without pruning being harmless on D:
  - the parent is not converged: retraining alone (the control network: the parent
    retrained with one cycle's rewound schedule, nothing pruned) gains more than delta
    on D, beyond the test set's sampling error (SAMPLING_Z standard errors of the paired
    difference on the same images), so every pruned network beats an under-trained
    parent by extra training;
  - censoring: the largest tested ratio still passes, so r is only a lower bound;
  - seed noise: with two or more seeds, a difference between D's potential and the
    nominal one smaller than their spread over seeds is no finding.
A fourth needs no other network: a distribution on which the parent itself is at
chance level (e.g. a contrast so low that every image looks alike) passes at every
ratio, so its prune potential says nothing.
Accuracies are fractions, delta in percentage points, as everywhere in tfprune.
"""
import numpy as np

from tfprune import metrics

NOMINAL = "nominal"
# A gain counts only beyond this many standard errors of the paired difference (two-sided
# 95%): on a few hundred test images one image is 0.2 points, so delta alone flags noise.
SAMPLING_Z = 1.96


def control_gains(control_accuracy, parent_accuracy):
    """{distribution: points the control network gains over the parent}."""
    return {name: 100.0 * (control_accuracy[name] - parent_accuracy[name])
            for name in parent_accuracy if name in control_accuracy}


def paired_standard_error(correct, other_correct):
    """Standard error (points) of the accuracy difference of two networks scored on the
    same images (boolean arrays, one entry per image): the images that only one of them
    gets right carry all of it."""
    difference = np.asarray(correct, float) - np.asarray(other_correct, float)
    return float(100.0 * difference.std() / np.sqrt(difference.size))


def inflated(gains, delta, standard_errors=None):
    """Distributions on which retraining alone gains more than delta, and more than
    SAMPLING_Z standard errors where they are given: their prune potentials against the
    parent are inflated."""
    errors = standard_errors or {}
    return sorted(name for name, gain in gains.items()
                  if gain > delta and gain > SAMPLING_Z * errors.get(name, 0.0))


def not_converged_lines(gains, delta, standard_errors=None):
    """One line per inflated distribution, for the run's log and the report."""
    errors = standard_errors or {}
    return [f"parent not converged: retraining alone gains {gains[name]:.1f} points on "
            f"{name}{_beyond(errors.get(name))}; prune potentials on {name} are inflated"
            for name in inflated(gains, delta, standard_errors)]


def _beyond(standard_error):
    return "" if standard_error is None else f" (sampling error {standard_error:.1f})"


def at_chance(parent_accuracy, classes, sizes):
    """Distributions on which the parent's accuracy is chance level for `classes` on
    `sizes[d]` images (metrics.chance_ceiling): their prune potentials mean nothing."""
    return sorted(name for name, accuracy in parent_accuracy.items()
                  if accuracy <= metrics.chance_ceiling(classes, sizes[name]))


def at_chance_lines(parent_accuracy, names):
    return [f"parent at chance level on {name} ({100 * parent_accuracy[name]:.1f}%): its "
            "prune potential there means nothing" for name in names]


def censored(potentials, ratios):
    """{distribution: whether its prune potential is the largest tested ratio}: every
    tested ratio up to it passed, so the true potential may be larger (">= r")."""
    largest = max(ratios, default=0.0)
    return {name: bool(ratios) and potential >= largest for name, potential in potentials.items()}


def seed_support(potentials_by_seed):
    """Per distribution, over the seeds' {distribution: prune potential} mappings: its
    mean difference to the nominal potential, the spread over seeds (the larger of the
    two potentials' standard deviations), and whether the difference exceeds it.
    Needs two or more seeds; empty otherwise."""
    if len(potentials_by_seed) < 2:
        return {}
    nominal = np.array([p[NOMINAL] for p in potentials_by_seed])
    support = {}
    for name in potentials_by_seed[0]:
        if name == NOMINAL or not all(name in p for p in potentials_by_seed):
            continue
        values = np.array([p[name] for p in potentials_by_seed])
        difference = float(np.mean(values - nominal))
        spread = float(max(np.std(values), np.std(nominal)))
        support[name] = dict(difference=difference, spread=spread,
                             differs_from_nominal=abs(difference) > spread)
    return support


def paired_comparison(pruned_by_seed, parent_by_seed, delta):
    """Per distribution, a pruned network's accuracy against its own seed's parent over
    the seeds: mean and standard deviation of the differences (points), and the
    conclusion every seed supports ("worse": each more than delta below its parent,
    "within": each within delta, "better": each more than delta above), else "mixed"."""
    comparison = {}
    for name in parent_by_seed[0]:
        if not all(name in p for p in pruned_by_seed):
            continue
        points = 100.0 * np.array([pruned[name] - parent[name]
                                   for pruned, parent in zip(pruned_by_seed, parent_by_seed)])
        if np.all(points < -delta):
            verdict = "worse"
        elif np.all(np.abs(points) <= delta):
            verdict = "within"
        elif np.all(points > delta):
            verdict = "better"
        else:
            verdict = "mixed"
        comparison[name] = dict(mean=float(points.mean()), std=float(points.std()),
                                seeds=len(points), verdict=verdict)
    return comparison
