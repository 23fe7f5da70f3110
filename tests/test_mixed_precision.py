"""Training under a mixed-precision policy (train.precision) through the real TF-MOT
wrappers: masks stay exactly 0/1 and pruned weights exactly 0, checkpoints are float32,
a killed bf16 run resumes to the uninterrupted run's results, `auto` follows the
hardware, and float16 without a GPU is refused in one line."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from conftest import ROOT, random_dataset, results_differences
from tfprune import cascade, errors, methods, models, precision, storage, train, wrappers
from tfprune import config as config_lib

BF16 = "mixed_bfloat16"


@pytest.fixture(scope="module")
def tiny():
    dataset = random_dataset()
    config = config_lib.base()
    config.train.update(dict(epochs=2, batch_size=32))
    config.data.augment = "none"
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std, seed=0)
    train.fit(model, dataset, config, 1)
    return model, dataset, config


def test_a_wrapped_network_trains_in_bf16_with_exact_masks_and_saves_as_float32(tiny, tmp_path):
    model, dataset, config = tiny
    keep = cascade.keep_budget(model, 0.6, models.count_params(model))
    trained = precision.with_policy(model, BF16)
    wrapped = wrappers.wrap(trained, wrappers.one_shot_schedule(0.5))
    prune = cascade.PruneToRatio(methods.get("ft").bind(), [keep], network=model, trained=trained)
    train.fit(wrapped, dataset, config, 2, callbacks=[
        prune, tfmot.sparsity.keras.UpdatePruningStep(),
        tfmot.sparsity.keras.PruningSummaries(log_dir=str(tmp_path / "tb"))])

    *hidden, output = wrappers.wrappers_of(wrapped)
    assert {layer.dtype_policy.name for layer in hidden} == {BF16}
    assert {wrappers.unwrap(layer).compute_dtype for layer in hidden} == {"bfloat16"}
    assert output.dtype_policy.name == precision.FLOAT32  # the logits layer
    assert wrapped(dataset.test_images[:4]).dtype == tf.float32  # logits stay float32
    for layer in wrappers.wrappers_of(wrapped):
        (kernel, mask, _), = layer.pruning_vars
        mask = mask.numpy()
        assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
        assert np.all(kernel.numpy()[mask == 0] == 0)
    assert prune._held, "FT under the graph rule holds the dead channels' BatchNorm at zero"
    trained_weights = {weight.ref() for weight in trained.weights}
    for weight, keep_mask in prune._held:
        assert weight.ref() in trained_weights  # the trained copy's, not the scoring network's
        assert np.all(weight.numpy()[keep_mask.numpy() == 0] == 0)

    stripped = wrappers.strip(wrapped)
    path = str(tmp_path / "cycle.keras")
    storage.save_model(path, precision.with_policy(stripped, precision.FLOAT32))
    loaded = storage.load_model(path)
    assert {layer.dtype_policy.name for layer in loaded.layers} == {precision.FLOAT32}
    for saved, kept in zip(loaded.get_weights(), stripped.get_weights()):
        assert saved.dtype == np.float32 and np.array_equal(saved, kept)
    assert 1 - cascade.nonzero_params(loaded) / models.count_params(loaded) >= 0.6 - 0.01


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: simulated\nflags\t\t: {' '.join(flags)}\n")
    return precision.cpu_flags(str(path))


def test_auto_follows_the_hardware(tmp_path):
    plain_cpu = _cpuinfo(tmp_path, ["fpu", "sse2", "avx2", "avx512f"])
    assert precision.resolve("auto", plain_cpu, gpus=[]).policy == precision.FLOAT32
    for flag in precision.BF16_CPU_FLAGS:
        chosen = precision.resolve("auto", _cpuinfo(tmp_path, ["avx2", flag]), gpus=[])
        assert chosen.policy == BF16 and flag in chosen.reason
    assert precision.resolve("auto", plain_cpu, gpus=[(8, 0)]).policy == "mixed_float16"
    assert precision.resolve("auto", plain_cpu, gpus=[(6, 1)]).policy == precision.FLOAT32
    assert precision.resolve(BF16, plain_cpu, gpus=[]).policy == BF16  # as asked
    bf16_cpu = _cpuinfo(tmp_path, ["avx2", "amx_bf16"])
    depthwise = models.build("mobilenet_v2", (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3)
    chosen = precision.resolve("auto", bf16_cpu, gpus=[], network=depthwise)
    assert chosen.policy == precision.FLOAT32 and "DepthwiseConv2D" in chosen.reason
    plain = models.build("resnet20", (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3)
    assert precision.resolve("auto", bf16_cpu, gpus=[], network=plain).policy == BF16
    assert precision.resolve(BF16, bf16_cpu, gpus=[], network=depthwise).policy == BF16
    with pytest.raises(errors.ConfigError, match="mixed_float16 needs a GPU"):
        precision.resolve("mixed_float16", plain_cpu, gpus=[])


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="a GPU is present")
def test_float16_without_a_gpu_is_refused_in_one_line(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
         "--config.train.precision=mixed_float16", f"--workdir={workdir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: train.precision=mixed_float16 needs a GPU")
    assert not (workdir / "results.json").exists()


RUN = ["--config", "configs/quickstart.py", f"--config.train.precision={BF16}",
       "--config.train.epochs=3", "--config.prune.ratios=(0.5,)",
       "--config.prune.retrain_epochs=3", "--config.eval.corruptions=('contrast',)",
       "--config.eval.noise_images=0", "--config.export.tflite=False"]
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def _command(workdir):
    return [sys.executable, "-m", "tfprune.run", *RUN, f"--workdir={workdir}"]


def test_a_killed_bf16_run_resumes_to_the_uninterrupted_results(tmp_path):
    reference, workdir = str(tmp_path / "uninterrupted"), str(tmp_path / "run")
    uninterrupted = subprocess.Popen(_command(reference), cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=ENV)
    try:
        killed = subprocess.Popen(_command(workdir), cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=ENV)
        marker = os.path.join(workdir, "backup", "wt", "cycle_01", "chief", "checkpoint")
        deadline = time.time() + 300
        while not os.path.exists(marker):
            assert killed.poll() is None, "the run ended before its first retraining backup"
            assert time.time() < deadline
            time.sleep(0.02)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert not os.path.exists(os.path.join(workdir, "checkpoints", "wt", "cycle_01.keras"))
        resumed = subprocess.run(_command(workdir), cwd=ROOT, capture_output=True, text=True,
                                 timeout=600, env=ENV)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "Epoch 1/3" not in resumed.stdout  # the cycle went on from its backup
        assert uninterrupted.wait(timeout=600) == 0
    finally:
        uninterrupted.kill()
        uninterrupted.wait()
    results = [json.load(open(os.path.join(folder, "results.json")))
               for folder in (reference, workdir)]
    assert results_differences(*results) == []
    record = json.load(open(os.path.join(workdir, "checkpoints", "wt", "cycle_01.json")))
    assert record["precision"]["policy"] == BF16


def test_eval_precision_records_bf16_agreement_with_float32(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
         "--config.train.epochs=4", "--config.prune.ratios=(0.5,)",
         "--config.prune.retrain_epochs=1", "--config.eval.corruptions=('contrast',)",
         "--config.eval.noise_images=0", "--config.export.tflite=False",
         f"--config.eval.precision={BF16}", f"--workdir={workdir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Keras under {BF16}: top-1 agreement with float32 at least" in result.stdout
    results = json.loads((workdir / "results.json").read_text())
    for entry in (results["parent"], *results["methods"]["wt"]["cycles"]):
        checked = entry["eval_precision"][BF16]
        assert set(checked["agreement_with_float32"]) == set(entry["accuracy"])
        assert all(0.9 < a <= 1.0 for a in checked["agreement_with_float32"].values())
        assert checked["accuracy"].keys() == entry["accuracy"].keys()
    assert (workdir / "predictions" / f"wt-01.keras-{BF16}.npz").exists()
