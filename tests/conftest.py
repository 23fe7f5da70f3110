"""Shared test helpers: the repository root, the shared CIFAR-10 folder, the
quickstart config, and a comparison of results.json trees (tfprune.compare)."""
import os
import runpy

import pytest

import tfprune  # noqa: F401  (before TensorFlow, in every test process)
from tfprune import compare

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CIFAR_DIR = os.path.join(ROOT, "..", "shared", "data", "cifar10", "cifar-10-batches-bin")


def config_file(name):
    """The get_config of configs/<name>.py, loaded by path as tfprune.run loads configs."""
    return runpy.run_path(os.path.join(ROOT, "configs", f"{name}.py"))["get_config"]


@pytest.fixture
def cifar_dir():
    if not os.path.exists(os.path.join(CIFAR_DIR, "test_batch.bin")):
        pytest.skip(f"real CIFAR-10 not found at {CIFAR_DIR} (shared data absent)")
    return CIFAR_DIR


def results_differences(a, b):
    """Where two results.json trees differ in a non-timing value, or in their keys."""
    changed, added = compare.differences(a, b)
    return changed + [f"{key}: only in the second" for key in added]
