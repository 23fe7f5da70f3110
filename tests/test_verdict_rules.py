"""The trust checks' rules on constructed results: a control network's gains flag an
unconverged parent, a potential at the largest tested ratio is censored, and with
several seeds only differences beyond their spread count."""
import numpy as np
import pytest

from tfprune import verdicts
from tfprune.report import reader

PARENT = {"nominal": 0.760, "fog_3": 0.600, "gaussian_noise_3": 0.500}


def test_a_control_that_beats_the_parent_by_more_than_delta_flags_the_distribution():
    control = {"nominal": 0.787, "fog_3": 0.603, "gaussian_noise_3": 0.497}
    gains = verdicts.control_gains(control, PARENT)
    assert gains == pytest.approx({"nominal": 2.7, "fog_3": 0.3, "gaussian_noise_3": -0.3})
    assert verdicts.inflated(gains, delta=0.5) == ["nominal"]
    assert verdicts.not_converged_lines(gains, 0.5) == [
        "parent not converged: retraining alone gains 2.7 points on nominal; prune "
        "potentials on nominal are inflated"]
    assert verdicts.inflated(gains, delta=3.0) == []


def test_a_gain_within_the_paired_sampling_error_is_not_flagged():
    """On 400 images, 8 that only the control gets right and 4 only the parent gets right
    are a 1-point gain: beyond delta, but not beyond 1.96 paired standard errors."""
    parent = np.zeros(400, bool)
    control = parent.copy()
    control[:8] = True
    parent[8:12] = True
    error = verdicts.paired_standard_error(control, parent)
    assert error == pytest.approx(100 * np.sqrt(12 / 400 - (4 / 400) ** 2) / 20)
    gains = {"nominal": 100 * (control.mean() - parent.mean())}
    assert gains["nominal"] == pytest.approx(1.0)
    assert verdicts.inflated(gains, 0.5) == ["nominal"]
    assert verdicts.inflated(gains, 0.5, {"nominal": error}) == []
    many = np.tile(control, 25), np.tile(parent, 25)  # the same gain on 10,000 images
    assert verdicts.inflated(gains, 0.5, {"nominal": verdicts.paired_standard_error(*many)}) \
        == ["nominal"]
    assert verdicts.not_converged_lines(gains, 0.5, {"nominal": 0.2}) == [
        "parent not converged: retraining alone gains 1.0 points on nominal (sampling error "
        "0.2); prune potentials on nominal are inflated"]


def test_a_converged_parent_is_not_flagged():
    control = {name: accuracy + 0.002 for name, accuracy in PARENT.items()}
    assert verdicts.inflated(verdicts.control_gains(control, PARENT), 0.5) == []


def test_the_largest_tested_ratio_is_a_censored_potential():
    ratios = [0.3, 0.5, 0.7, 0.92]
    potentials = {"nominal": 0.92, "fog_3": 0.7, "gaussian_noise_3": 0.0}
    assert verdicts.censored(potentials, ratios) == {
        "nominal": True, "fog_3": False, "gaussian_noise_3": False}
    assert verdicts.censored({"nominal": 0.0}, []) == {"nominal": False}


def test_only_differences_beyond_the_seed_spread_are_supported():
    seeds = [{"nominal": 0.85, "fog_3": 0.70, "gaussian_noise_3": 0.00},
             {"nominal": 0.80, "fog_3": 0.85, "gaussian_noise_3": 0.10},
             {"nominal": 0.85, "fog_3": 0.80, "gaussian_noise_3": 0.00}]
    support = verdicts.seed_support(seeds)
    assert support["gaussian_noise_3"]["differs_from_nominal"]
    assert support["gaussian_noise_3"]["difference"] == pytest.approx(-0.8)
    assert not support["fog_3"]["differs_from_nominal"]  # -0.05 within a spread of 0.06
    assert verdicts.seed_support(seeds[:1]) == {}


def test_the_paired_comparison_names_what_every_seed_supports():
    parents = [{"nominal": 0.76, "fog_3": 0.60}, {"nominal": 0.75, "fog_3": 0.62}]
    pruned = [{"nominal": 0.762, "fog_3": 0.57}, {"nominal": 0.748, "fog_3": 0.63}]
    comparison = verdicts.paired_comparison(pruned, parents, delta=0.5)
    assert comparison["nominal"]["verdict"] == "within"
    assert comparison["fog_3"]["verdict"] == "mixed"
    assert comparison["fog_3"]["mean"] == pytest.approx((-3.0 + 1.0) / 2)
    worse = verdicts.paired_comparison([{"fog_3": 0.55}, {"fog_3": 0.58}], parents, 0.5)
    assert worse["fog_3"]["verdict"] == "worse" and worse["fog_3"]["seeds"] == 2


def test_figures_mark_the_same_potentials_censored_as_the_results():
    """The report's figures (tfprune.report.reader.censored, for any potential: Keras or an
    exported variant) mark exactly what results.json records as censored."""
    summary = {"cycles": [{"prune_ratio": r} for r in (0.3, 0.5, 0.7, 0.92)]}
    potentials = {"nominal": 0.92, "fog_3": 0.7, "gaussian_noise_3": 0.0}
    assert reader.censored(summary, potentials) == verdicts.censored(
        potentials, [c["prune_ratio"] for c in summary["cycles"]])
