"""A command on a machine without a GPU logs no CUDA start-up errors, none of the native
notices TensorFlow prints before its log level applies, and no tf.function retracing
warning; what the log level lets through still passes."""
import os
import subprocess
import sys

from conftest import ROOT

NOISE = ("failed call to cuInit", "Could not find cuda drivers", "Unable to register cuDNN",
         "Unable to register cuFFT", "Unable to register cuBLAS", "oneDNN custom operations",
         "All log messages before absl::InitializeLog()", "triggered tf.function retracing")


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT, **env))


def test_a_tiny_run_logs_no_cuda_or_retracing_noise(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
         "--config.train.epochs=1", "--config.data.max_train_examples=256",
         "--config.prune.ratios=(0.5,)", "--config.prune.retrain_epochs=1",
         "--config.eval.corruptions=('contrast',)", "--config.eval.noise_images=20",
         "--config.eval.stop_at_chance_parent=False", "--config.eval.control_network=False",
         f"--workdir={tmp_path / 'run'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [line for line in result.stderr.splitlines()
                if any(noise in line for noise in NOISE)], result.stderr[-3000:]


def test_the_filter_applies_the_log_level_instead_of_dropping_lines():
    """With TF_CPP_MIN_LOG_LEVEL=0 (everything) the native notices pass: the capture hides
    only what the level hides."""
    quiet = _python("import tfprune, tensorflow\nprint(tensorflow.constant(1).numpy())")
    assert quiet.returncode == 0 and quiet.stdout.strip() == "1", quiet.stderr[-3000:]
    assert not [noise for noise in NOISE if noise in quiet.stderr], quiet.stderr
    verbose = _python("import tfprune, tensorflow", TF_CPP_MIN_LOG_LEVEL="0")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "oneDNN custom operations" in verbose.stderr
