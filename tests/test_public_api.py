"""tfprune.api end to end: examples/own_model.py (a user's Keras model and arrays) runs,
writes the workdir the CLI writes, and a rerun with the same objects continues it; the
API's functions agree with each other and refuse bad input in one line."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from tfprune import api, errors, models


def test_the_example_runs_end_to_end_and_a_rerun_continues(tmp_path):
    workdir = tmp_path / "example"
    command = [sys.executable, "-m", "examples.own_model", str(workdir)]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    results = json.loads((workdir / "results.json").read_text())
    assert results["parent_source"]["path"].startswith(str(workdir / "inputs" / "model-"))
    assert results["dataset"]["name"] == "npz" and results["dataset"]["num_test"] == 450
    assert [c["target_ratio"] for c in results["methods"]["wt"]["cycles"]] == [0.5, 0.8]
    assert "control" in results and (workdir / "report.md").exists()
    # The parent is the user's model, not retrained: the API's own evaluation agrees.
    yours = next(line for line in first.stdout.splitlines() if line.startswith("yours:"))
    assert f"'nominal': {results['parent']['accuracy']['nominal']}" in yours
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "parent: reusing" in again.stdout and "training" not in again.stdout.split(
        "parent: reusing")[1].split("\n")[0]
    assert json.loads((workdir / "results.json").read_text())["methods"] == results["methods"]
    assert len(os.listdir(workdir / "inputs")) == 2  # the model and the arrays, once


def test_prune_export_and_evaluate_agree(tmp_path):
    config = api.config("configs/quickstart.py", {"eval.corruptions": ("contrast",)})
    dataset, found = api.load_distributions(config, str(tmp_path))
    model = models.build("cnn_small", (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3, seed=0)
    pruned = api.prune(model, "wt", 0.6)
    kernels = [w for w in pruned.get_weights() if w.ndim > 1]
    zeros = sum(int((k == 0).sum()) for k in kernels)
    assert zeros >= 0.5 * sum(k.size for k in kernels)
    assert sum(int((w == 0).sum()) for w in model.get_weights() if w.ndim > 1) == 0
    keras = api.evaluate(pruned, found)
    tflite = api.evaluate_tflite(api.export_tflite(pruned), found)
    assert set(keras) == {"nominal", "contrast_3"}
    assert keras == pytest.approx(tflite, abs=0.01)
    with pytest.raises(errors.ConfigError, match="scores with data"):
        api.prune(model, "sipp", 0.5)
    api.prune(model, "sipp", 0.5, dataset.val_images[:64], dataset.val_labels[:64])


@pytest.mark.parametrize("overrides, message", [
    ({"train.epoch": 3}, "train.epoch: unknown key; did you mean train.epochs?"),
    ({"train.lr": -1.0}, "config.train.lr: -1.0 is out of range"),
])
def test_bad_config_is_one_line(overrides, message):
    with pytest.raises(errors.ConfigError, match=message) as raised:
        api.config(overrides=overrides)
    assert "\n" not in str(raised.value)


def test_bad_data_arrays_are_one_line(tmp_path):
    with pytest.raises(errors.ConfigError, match="holds 3 arrays") as raised:
        api.run(api.config(), str(tmp_path), data_arrays=(np.zeros(1),) * 3)
    assert "\n" not in str(raised.value)
