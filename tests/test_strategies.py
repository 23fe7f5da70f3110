"""Pruning under tf.distribute strategies (`train.strategy`): the whole pipeline under
MirroredStrategy over two logical CPU devices, and under MultiWorkerMirroredStrategy
with two worker processes on localhost. Training runs on 2 replicas that together see
the seeded stream's global batches; every cycle's network (WT, FT) has its target
sparsity, and the BatchNorm of FT's dead channels stays zero (PruneToRatio's step hook
under the strategy). A bad strategy or TF_CONFIG is refused in one line."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from conftest import ROOT
from tfprune import cascade, config as config_lib, models, structure, wrappers
from tfprune import errors
from tfprune import strategy as strategy_lib

RATIOS = (0.5, 0.8)
METHODS = ("wt", "ft")
RUN = ["--config", "configs/quickstart.py", "--config.train.epochs=1",
       "--config.data.max_train_examples=512",
       f"--config.prune.ratios={RATIOS}", "--config.prune.retrain_epochs=1",
       f"--config.prune.methods={','.join(METHODS)}", "--config.eval.corruptions=()",
       "--config.eval.noise_images=0", "--config.eval.reference_network=False",
       "--config.export.tflite=False", "--config.eval.stop_at_chance_parent=False",
       "--config.eval.control_network=False"]
# One process of a run: its logical CPU devices, the strategy, the labels of the first
# global batches its replicas get from a training stream whose labels are the examples'
# indices (Keras distributes fit's dataset this way), then `python -m tfprune.run`.
# A subprocess, so that this process's TensorFlow keeps its one device.
LAUNCH = r"""
import json, runpy, sys
import numpy as np
import tfprune
import tensorflow as tf
from tfprune import data, strategy as strategy_lib

name, devices = sys.argv[1], int(sys.argv[2])
if devices > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
strategy = strategy_lib.get(name)
stream = data.train_pipeline(np.zeros((64, 32, 32, 3), np.uint8),
                             np.arange(64, dtype=np.int32), 8, "none", 3)
batches = iter(strategy.experimental_distribute_dataset(stream))
seen = [[replica.numpy().tolist()
         for replica in strategy.experimental_local_results(next(batches)[1])]
        for _ in range(3)]
expected = [labels.numpy().tolist() for _, labels in stream.take(3)]
print("BATCHES " + json.dumps(dict(seen=seen, expected=expected)), flush=True)
sys.argv = ["tfprune.run", *sys.argv[3:]]
runpy.run_module("tfprune.run", run_name="__main__", alter_sys=True)
"""


def _command(strategy, devices, workdir):
    return [sys.executable, "-c", LAUNCH, strategy, str(devices), *RUN,
            f"--config.train.strategy={strategy}", f"--workdir={workdir}"]


def _batches(output):
    """(labels each replica of the process got, per global batch; the stream's batches)."""
    line, = [l for l in output.splitlines() if l.startswith("BATCHES ")]
    batches = json.loads(line[len("BATCHES "):])
    return batches["seen"], batches["expected"]


def _record(path):
    with open(str(path).replace(".keras", ".json")) as stream:
        return json.load(stream)


def _load(path):
    return tf.keras.models.load_model(path, compile=False)


def _check_run(workdir):
    """The chief's workdir: 2 replicas trained every network; each cycle reached its
    target (WT exactly, FT to within its filter granularity) with dead norms zero."""
    parent_path = os.path.join(workdir, "checkpoints", "parent.keras")
    assert _record(parent_path)["replicas"] == 2
    total = models.count_params(_load(parent_path))
    for method in METHODS:
        for index, ratio in enumerate(RATIOS, start=1):
            path = os.path.join(workdir, "checkpoints", method, f"cycle_{index:02d}.keras")
            record = _record(path)
            assert record["replicas"] == 2
            model = _load(path)
            achieved = 1.0 - cascade.nonzero_params(model) / total
            assert achieved == record["prune_ratio"]
            tolerance = 0.005 * ratio if method == "wt" else 0.03
            assert abs(achieved - ratio) <= tolerance, (method, ratio, achieved)
            if method == "ft":
                masks = [(k.numpy() != 0).astype(np.float32)
                         for k in wrappers.prunable_kernels(model)]
                _, dead_norms = structure.settle(model, masks)
                assert dead_norms, f"FT at {ratio} leaves dead channels"
                for name, keep in dead_norms.items():
                    for weight in model.get_layer(name).trainable_weights:
                        assert np.all(weight.numpy()[~keep] == 0), (path, weight.name)
    assert os.path.exists(os.path.join(workdir, "results.json"))


def test_mirrored_strategy_on_two_cpu_devices(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(_command("mirrored", 2, workdir), cwd=ROOT, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    seen, expected = _batches(result.stdout)
    assert all(len(replicas) == 2 for replicas in seen)
    assert [sum(replicas, []) for replicas in seen] == expected
    assert "strategy mirrored (2 replicas)" in result.stdout
    _check_run(workdir)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_multi_worker_strategy_with_two_workers_on_localhost(tmp_path):
    workdir = tmp_path / "run"
    cluster = dict(worker=[f"localhost:{port}" for port in _free_ports(2)])
    logs = [tmp_path / f"worker{index}.log" for index in range(2)]
    processes = []
    try:
        for index, log in enumerate(logs):
            env = dict(os.environ, TF_CONFIG=json.dumps(dict(
                cluster=cluster, task=dict(type="worker", index=index))))
            with open(log, "w") as stream:
                processes.append(subprocess.Popen(
                    _command("multi_worker", 1, workdir), cwd=ROOT, env=env, stdout=stream,
                    stderr=subprocess.STDOUT, text=True))
        codes = [process.wait(timeout=900) for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    (chief_seen, expected), (worker_seen, _) = map(_batches, outputs)
    assert [a + b for (a,), (b,) in zip(chief_seen, worker_seen)] == expected
    assert all("strategy multi_worker (2 replicas)" in output for output in outputs)
    assert "results: " in outputs[0] and "results: " not in outputs[1]
    assert not list(workdir.rglob("*workertemp*"))  # the other worker wrote elsewhere
    _check_run(workdir)


def test_unknown_strategy_and_missing_tf_config_are_refused(monkeypatch):
    config = config_lib.base()
    config.train.strategy = "tpu"
    with pytest.raises(errors.ConfigError, match="config.train.strategy: unknown name 'tpu'"):
        config_lib.validate(config)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(errors.ConfigError, match="multi_worker needs TF_CONFIG"):
        strategy_lib.get("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{cluster")
    with pytest.raises(errors.ConfigError, match="TF_CONFIG is not a JSON object"):
        strategy_lib.get("multi_worker")
