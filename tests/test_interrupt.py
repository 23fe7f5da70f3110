"""Ctrl-C (SIGINT) in a real run: one line on stderr, "interrupted; rerun the same command
to continue", exit code 130, no traceback; every finished file stays as it was, no
temporary or lock record is left, and rerunning the command continues from them."""
import glob
import hashlib
import os
import signal
import subprocess
import sys

from conftest import ROOT
from tfprune import cli

COMMAND = [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
           "--config.train.epochs=2", "--config.data.max_train_examples=256",
           "--config.prune.ratios=(0.5,)", "--config.prune.retrain_epochs=20",
           "--config.eval.corruptions=('contrast',)", "--config.eval.noise_images=0",
           "--config.eval.reference_network=False", "--config.export.tflite=False",
           "--config.eval.stop_at_chance_parent=False", "--config.eval.control_network=False"]


def _digest(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def test_sigint_ends_in_one_line_with_exit_130_and_the_run_continues(tmp_path):
    workdir = str(tmp_path / "run")
    command = [*COMMAND, f"--workdir={workdir}"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # A pytest-xdist worker ignores SIGINT and a child inherits that (Python then installs
    # no KeyboardInterrupt handler): the run gets Ctrl-C's default, as from a terminal.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in process.stdout:
            # The parent is finished and saved, the cycle's 20 epochs of retraining begin
            # (the "[wt] cycle 1/1" line comes when they end: too late, the run may finish
            # before the signal arrives).
            if line.startswith("Epoch 1/20"):
                break
        parent = os.path.join(workdir, "checkpoints", "parent.keras")
        finished = {path: _digest(path) for path in (parent, parent[:-len(".keras")] + ".json")}
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == cli.INTERRUPTED
    assert cli.INTERRUPTED == "interrupted; rerun the same command to continue"
    assert {path: _digest(path) for path in finished} == finished
    assert not glob.glob(os.path.join(workdir, "**", ".tmp-*"), recursive=True)
    assert not glob.glob(os.path.join(workdir, "lock", "holder-*.json"))
    assert not os.path.exists(os.path.join(workdir, "results.json"))
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"parent: reusing {parent}" in rerun.stdout
    assert os.path.exists(os.path.join(workdir, "results.json"))
