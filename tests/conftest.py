"""Shared test helpers: the repository root, the shared CIFAR-10 folder, the
quickstart config, and a comparison of results.json trees."""
import os
import runpy

import pytest

import tfprune  # noqa: F401  (before TensorFlow, in every test process)

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


# Keys whose values are timings: they differ between otherwise identical runs.
TIMING_WORDS = ("seconds", "_ms", "latency", "speedup")


def results_differences(a, b, path=""):
    """Where two results.json trees differ in structure or in a non-timing value."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for key in a if not any(word in key for word in TIMING_WORDS)
                for d in results_differences(a[key], b[key], f"{path}/{key}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in results_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
