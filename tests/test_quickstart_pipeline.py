"""The whole pipeline on a tiny budget, through the real CLI: train, prune, evaluate,
export, resume, and refuse a mismatched workdir."""
import glob
import json
import os
import subprocess
import sys

import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from conftest import ROOT

TINY = ["--config", "configs/quickstart.py", "--config.train.epochs=3",
        "--config.prune.spacing=('geometric(0.6, 0.2, 2)',)", "--config.prune.retrain_epochs=1",
        "--config.eval.corruptions=('gaussian_noise', 'contrast')"]


def _run(module, *args):
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    return result


def _results(workdir):
    with open(os.path.join(workdir, "results.json")) as stream:
        return json.load(stream)


def _tags(directory):
    tags = set()
    for path in glob.glob(os.path.join(directory, "**", "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.fixture(scope="module")
def run_without_export(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("quickstart"))
    result = _run("tfprune.run", *TINY, f"--workdir={workdir}", "--config.export.tflite=False")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def test_run_writes_checkpoints_results_and_table(run_without_export):
    workdir, result = run_without_export
    results = _results(workdir)
    assert results["schema_version"] == 2
    cycles = results["methods"]["wt"]["cycles"]
    assert all(isinstance(c["excess_error"], float) for c in cycles)  # test vs train group
    assert [c["target_ratio"] for c in cycles] == [0.4, 0.8]
    for cycle in cycles:
        assert abs(cycle["prune_ratio"] - cycle["target_ratio"]) / cycle["target_ratio"] <= 0.005
        assert set(cycle["accuracy"]) == {"nominal", "gaussian_noise_3", "contrast_3"}
        assert cycle["export"] == {}
        assert os.path.exists(os.path.join(workdir, "checkpoints", "wt",
                                           f"cycle_{cycle['index']:02d}.keras"))
    potential = results["methods"]["wt"]["prune_potential"]["nominal"]
    assert potential in [0.0] + [c["prune_ratio"] for c in cycles]
    assert "distribution" in result.stdout and "PP keras" in result.stdout
    assert "[wt] cycle 2/2" in result.stdout


def test_tensorboard_has_pruning_summaries_and_cycle_scalars(run_without_export):
    workdir, _ = run_without_export
    tags = _tags(os.path.join(workdir, "tensorboard", "wt"))
    assert {"accuracy/nominal", "accuracy/contrast_3", "prune_ratio",
            "prune_potential/nominal", "prune_potential/gaussian_noise_3"} <= tags
    assert any(tag.startswith("layer_sparsity/") for tag in tags)
    assert any(tag.endswith("/sparsity") for tag in tags)  # TF-MOT's PruningSummaries
    samples = _tags(os.path.join(workdir, "tensorboard", "samples"))
    assert {"samples/nominal", "samples/gaussian_noise_3"} <= samples


def test_every_run_ends_with_a_report(run_without_export):
    workdir, result = run_without_export
    report = os.path.join(workdir, "report.md")
    assert os.path.exists(report) and f"report: {report}" in result.stdout
    for line in open(report):
        if "](report/" in line:
            figure = line.split("](", 1)[1].split(")", 1)[0]
            assert open(os.path.join(workdir, figure), "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_export_cli_adds_tflite_without_retraining(run_without_export):
    workdir, _ = run_without_export
    before = os.path.getmtime(os.path.join(workdir, "checkpoints", "wt", "cycle_02.keras"))
    result = _run("export.tflite", f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parent: reusing" in result.stdout
    assert os.path.getmtime(os.path.join(workdir, "checkpoints", "wt", "cycle_02.keras")) == before
    results = _results(workdir)
    for network in [results["parent"], *results["methods"]["wt"]["cycles"]]:
        assert os.path.exists(os.path.join(workdir, network["export"]["float32"]["file"]))
        assert min(network["export"]["float32"]["agreement_with_keras"].values()) >= 0.99
    assert "float32" in results["methods"]["wt"]["export"]


def test_rerun_resumes_with_identical_results(run_without_export):
    workdir, _ = run_without_export
    first = _results(workdir)
    result = _run("tfprune.run", *TINY, f"--workdir={workdir}", "--config.export.tflite=False")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parent: reusing" in result.stdout and "Epoch" not in result.stdout
    second = _results(workdir)
    assert second["methods"]["wt"]["prune_potential"] == first["methods"]["wt"]["prune_potential"]
    assert second["parent"]["accuracy"] == first["parent"]["accuracy"]


def test_other_training_config_on_the_workdir_is_refused_and_nothing_lost(run_without_export):
    workdir, _ = run_without_export
    before = open(os.path.join(workdir, "results.json")).read()
    result = _run("tfprune.run", *TINY, f"--workdir={workdir}", "--config.train.lr=0.2")
    assert result.returncode == 2
    assert "train.lr" in result.stderr and "new --workdir" in result.stderr
    assert open(os.path.join(workdir, "results.json")).read() == before
