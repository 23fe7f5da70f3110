"""tfprune.profile traces real training steps with TensorFlow's profiler and attributes
the op threads' time to op types: convolutions and their gradients must show up, and
the CLI prints the table."""
import subprocess
import sys

import numpy as np

from conftest import ROOT
from tfprune import models, profile


def test_training_trace_attributes_time_to_convolution_ops(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images)).astype(np.int32)
    model = models.build("cnn_small", (32, 32, 3), 10, (125.0,) * 3, (63.0,) * 3)
    ops, input_seconds, wall = profile.profile_training(model, images, labels, 4,
                                                        str(tmp_path), batch_size=32)
    assert wall > 0 and input_seconds >= 0
    assert all(seconds >= 0 for seconds in ops.values())
    conv = {name for name in ops if "Conv2D" in name}
    assert any("BackpropFilter" in name for name in conv), sorted(ops)
    assert any("BackpropInput" in name for name in conv), sorted(ops)
    assert list(tmp_path.glob("plugins/profile/*/*.xplane.pb"))


def test_cli_prints_op_shares_under_the_pruning_wrappers(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tfprune.profile", "--model=cnn_small", "--steps=3",
         "--wrapped", f"--workdir={tmp_path}"], cwd=ROOT, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "under pruning wrappers" in result.stdout
    assert "Conv2D" in result.stdout and f"trace: {tmp_path}" in result.stdout
