"""A run killed with SIGKILL at any point and rerun with the same command ends with the
results.json of an uninterrupted run: during parent training (continued from its
BackupAndRestore backup), during evaluation, during TFLite export, between cycles and
during a cycle's retraining."""
import json
import os
import signal
import subprocess
import sys
import time

from conftest import QUICK_RUN as RUN
from conftest import ROOT, results_differences

# Wall-clock measurements (training time, TFLite latency and speed-ups): the only values
# allowed to differ. Every metric is compared bit for bit: training, pruning and
# evaluation on the CPU give the same numbers in every process.
# (kill point, file whose appearance marks it, files that must still be missing then)
KILL_POINTS = [
    ("parent training, after its first epoch's backup", "backup/parent/chief/checkpoint",
     ["checkpoints/parent.keras"]),
    ("parent evaluation", "checkpoints/parent.json", ["predictions/parent.keras.npz"]),
    ("parent TFLite export", "predictions/parent.keras.npz", ["tflite"]),
    ("between cycles 1 and 2", "checkpoints/wt/cycle_01.json", ["checkpoints/wt/cycle_02.keras"]),
    ("cycle 2 retraining, after its first epoch's backup", "backup/wt/cycle_02/chief/checkpoint",
     ["checkpoints/wt/cycle_02.keras"]),
]


def _command(workdir):
    return [sys.executable, "-m", "tfprune.run", *RUN, f"--workdir={workdir}"]


ENV = dict(os.environ, PYTHONUNBUFFERED="1")  # a killed run's log keeps its last lines


def _finish(workdir):
    result = subprocess.run(_command(workdir), cwd=ROOT, capture_output=True, text=True,
                            timeout=600, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _kill_when(workdir, marker, timeout=300):
    """Start the run, SIGKILL it as soon as `marker` appears in the workdir; returns the
    run's output up to then."""
    with open(os.path.join(os.path.dirname(workdir), "killed.log"), "w+") as log:
        process = subprocess.Popen(_command(workdir), cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, env=ENV)
        deadline = time.time() + timeout
        try:
            while not os.path.exists(os.path.join(workdir, marker)):
                assert process.poll() is None, f"the run ended before {marker} appeared"
                assert time.time() < deadline, f"{marker} did not appear within {timeout}s"
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
        log.seek(0)
        return log.read()


def _results(workdir):
    with open(os.path.join(workdir, "results.json")) as stream:
        return json.load(stream)


def test_killed_at_every_stage_then_resumed_equals_an_uninterrupted_run(tmp_path):
    # The uninterrupted run goes on beside the killed ones.
    reference = str(tmp_path / "uninterrupted")
    with open(str(tmp_path / "uninterrupted.log"), "w") as log:
        uninterrupted = subprocess.Popen(_command(reference), cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, env=ENV)
    try:
        workdir = str(tmp_path / "run")
        logs = []
        for point, marker, missing in KILL_POINTS:
            logs.append(_kill_when(workdir, marker))
            for path in missing:
                assert not os.path.exists(os.path.join(workdir, path)), (
                    f"killed too late for {point}: {path} exists")
        # The second invocation continued the parent from its backup, not from scratch.
        assert "Epoch 1/4" not in logs[1] and "Epoch 4/4" in logs[1]
        resumed = _finish(workdir)
        # The last kill came mid-retraining: the backup carried cycle 2 past its first epoch.
        assert "Epoch 2/2" in resumed.stdout and "Epoch 1/2" not in resumed.stdout
        assert not os.path.exists(os.path.join(workdir, "backup"))  # removed with each stage
        assert uninterrupted.wait(timeout=600) == 0
    finally:
        uninterrupted.kill()
        uninterrupted.wait()
    assert results_differences(_results(reference), _results(workdir)) == []
