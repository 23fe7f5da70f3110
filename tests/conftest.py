"""Shared test helpers: the repository root, the shared CIFAR-10 and frost folders, the
quickstart config, the quick run's flags, a tiny in-process run, and a comparison of
results.json trees (tfprune.compare)."""
import os
import runpy
import shutil

import numpy as np
import pytest

import tfprune  # noqa: F401  (before TensorFlow, in every test process)
from tfprune import compare, pipeline
from tfprune.data import Dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CIFAR_DIR = os.path.join(ROOT, "..", "shared", "data", "cifar10", "cifar-10-batches-bin")
FROST_DIR = os.path.join(ROOT, "..", "shared", "data", "frost")  # the reference's photos
# A quickstart run of seconds per stage (2 cycles, 1 corruption, 50 noise images), for
# tests that kill runs and resume them.
QUICK_RUN = ["--config", "configs/quickstart.py", "--config.train.epochs=4",
             "--config.prune.ratios=(0.4, 0.7)", "--config.prune.retrain_epochs=2",
             "--config.eval.corruptions=('contrast',)", "--config.eval.noise_images=50",
             "--config.eval.reference_network=False", "--config.eval.control_network=False"]


def config_file(name):
    """The get_config of configs/<name>.py, loaded by path as tfprune.run loads configs."""
    return runpy.run_path(os.path.join(ROOT, "configs", f"{name}.py"))["get_config"]


@pytest.fixture
def cifar_dir():
    if not os.path.exists(os.path.join(CIFAR_DIR, "test_batch.bin")):
        pytest.skip(f"real CIFAR-10 not found at {CIFAR_DIR} (shared data absent)")
    return CIFAR_DIR


@pytest.fixture(scope="module")
def frost_dir():
    if not os.path.exists(os.path.join(FROST_DIR, "SHA256SUMS")):
        pytest.skip(f"the reference's frost photographs are not at {FROST_DIR} "
                    "(shared data absent)")
    return FROST_DIR


def results_differences(a, b):
    """Where two results.json trees differ in a non-timing value, or in their keys."""
    changed, added = compare.differences(a, b)
    return changed + [f"{key}: only in the second" for key in added]


def tiny_config():
    """The quickstart run in seconds: 1 epoch, 2 cycles, 1 corruption, 20 noise images."""
    config = config_file("quickstart")()
    config.train.epochs = 1
    config.data.max_train_examples = 256
    config.prune.ratios = (0.3, 0.6)
    config.prune.retrain_epochs = 1
    config.eval.corruptions = ("contrast",)
    config.eval.noise_images = 20
    config.eval.reference_network = False
    config.eval.stop_at_chance_parent = False  # one epoch on 256 images: plumbing only
    config.eval.control_network = False  # tests/test_control_network.py tests it
    config.export.latency_runs = 0
    return config


def rerun(run_dir):
    """The same command again on `run_dir`: (results, log lines)."""
    logs = []
    return pipeline.run(tiny_config(), run_dir, log=logs.append), logs


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(run_dir, results) of a tiny run, finished once per test module."""
    run_dir = str(tmp_path_factory.mktemp("tiny") / "finished")
    results, _ = rerun(run_dir)
    return run_dir, results


@pytest.fixture
def copy(finished, tmp_path):
    """A copy of `finished`'s workdir for one test to break."""
    path = str(tmp_path / "copy")
    shutil.copytree(finished[0], path)
    return path


def random_dataset():
    """96 random 32x32 images with random labels of 10 classes (64 train, 16 validation,
    16 test): a data set for tests of training plumbing."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (96, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 96).astype(np.int32)
    return Dataset("random", "test", images[:64], labels[:64], images[64:80], labels[64:80],
                   images[80:], labels[80:], 10, (127.0,) * 3, (70.0,) * 3)
