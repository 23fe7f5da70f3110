"""A parent at chance level stops the run in one line before any pruning; the
quickstart's trained parent is far above the line."""
import os
import subprocess
import sys

from conftest import ROOT
from tfprune import metrics


def test_chance_ceiling_is_chance_plus_three_sigma():
    assert metrics.chance_ceiling(10, 10000) == 0.1 + 3 * (0.09 / 10000) ** 0.5
    assert metrics.chance_ceiling(2, 100) == 0.5 + 3 * 0.05


def test_an_untrained_parent_stops_the_run_before_pruning(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
         "--config.train.epochs=0", "--config.eval.corruptions=('contrast',)",
         "--config.export.tflite=False", f"--workdir={workdir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: parent: nominal accuracy") and "chance level" in last
    assert "train.epochs=0" in last
    assert not os.path.exists(workdir / "checkpoints" / "wt")  # nothing pruned
    assert not os.path.exists(workdir / "results.json")
