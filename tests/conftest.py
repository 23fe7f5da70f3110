"""Shared test helpers: the repository root and the shared CIFAR-10 folder."""
import os

import pytest

import tfprune  # noqa: F401  (before TensorFlow, in every test process)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CIFAR_DIR = os.path.join(ROOT, "..", "shared", "data", "cifar10", "cifar-10-batches-bin")


@pytest.fixture
def cifar_dir():
    if not os.path.exists(os.path.join(CIFAR_DIR, "test_batch.bin")):
        pytest.skip(f"real CIFAR-10 not found at {CIFAR_DIR} (shared data absent)")
    return CIFAR_DIR
