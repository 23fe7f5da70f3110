"""A pruning method is one file plus one registry line: a method registered from inside
this test (random scores, one knob) is validated, configured, pruned with, recorded and
reported by the real pipeline, with no other file touched."""
import os

import numpy as np
import pytest

from conftest import config_file
from tfprune import config as config_lib
from tfprune import errors, methods, pipeline, wrappers

COLOUR = "#123456"
SEED_KNOB = methods.Knob("random_seed", 0, 0, doc="seed of the random scores")


def random_scores(model, target, random_seed=0):
    """Keep the target's weights chosen at random: the control every method should beat."""
    rng = np.random.default_rng(random_seed)
    scores = [rng.random(kernel.shape) for kernel in wrappers.prunable_kernels(model)]
    return methods.budget.global_top_k(model, target, scores)


@pytest.fixture
def registered(monkeypatch):
    method = methods.Method("random", random_scores, structured=False, needs_data=False,
                            colour=COLOUR, knobs=(SEED_KNOB,))
    monkeypatch.setitem(methods.REGISTRY, method.name, method)
    return method


def _tiny_config():
    config = config_file("quickstart")()
    config.train.epochs = 1
    config.data.max_train_examples = 256
    config.eval.stop_at_chance_parent = False  # plumbing: a one-epoch parent
    config.eval.control_network = False
    config.prune.ratios = (0.3, 0.6)
    config.prune.retrain_epochs = 1
    config.eval.corruptions = ("contrast",)
    config.eval.noise_images = 0
    config.eval.reference_network = False
    config.export.tflite = False
    return config


def test_its_knob_is_a_config_key_with_its_range(registered):
    config = _tiny_config()
    assert config.prune.random_seed == 0
    config.prune.method = "random"
    config.prune.random_seed = -1
    with pytest.raises(errors.ConfigError, match=r"config.prune.random_seed: -1 is out of "
                                                 r"range; allowed: \[0, inf\]"):
        config_lib.validate(config)


def test_a_registered_method_runs_a_cascade_and_a_report(registered, tmp_path):
    config = _tiny_config()
    config.prune.methods = "wt,random"
    config.prune.random_seed = 7
    results = pipeline.run(config, str(tmp_path), log=lambda _: None)
    summary = results["methods"]["random"]
    assert summary["colour"] == COLOUR and summary["knobs"] == {"random_seed": 7}
    assert summary["structured"] is False
    ratios = [c["prune_ratio"] for c in summary["cycles"]]
    assert ratios == pytest.approx([0.3, 0.6], abs=0.005)
    assert summary["cycles"][0]["layer_sparsity"] != results["methods"]["wt"]["cycles"][0][
        "layer_sparsity"]  # random masks, not WT's
    report = (tmp_path / "report.md").read_text()
    assert "random Keras" in report  # its column of the prune potential table
    assert os.path.exists(tmp_path / "report" / "accuracy_groups.png")


def test_without_the_registration_the_name_is_refused():
    config = _tiny_config()
    config.prune.method = "random"
    with pytest.raises(errors.ConfigError, match="unknown name 'random'"):
        config_lib.validate(config)
