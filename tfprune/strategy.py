"""The tf.distribute strategy that trains a run's networks (config key `train.strategy`).

  default       one device: TensorFlow's default strategy, today's single-process run
  mirrored      MirroredStrategy over all local GPUs, or over the CPU devices where
                there is no GPU (one, unless logical CPU devices were configured)
  multi_worker  MultiWorkerMirroredStrategy over the cluster TF_CONFIG describes; every
                worker runs the same command on the same workdir

Networks, pruning wrappers and optimizers are created under `scope()` (tfprune.train,
tfprune.cascade); evaluation and export stay outside it, on plain variables loaded from
the saved checkpoints. Keras splits each global batch of `train.batch_size` examples
into consecutive per-replica slices (mirrored), or gives each worker its slice of every
global batch (multi_worker), so the global batches are the seeded stream's.
"""
import atexit
import functools
import json
import os
import shutil
import tempfile

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import errors

STRATEGIES = ("default", "mirrored", "multi_worker")


def _mirrored():
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy(devices=[device.name for device in devices])


def _multi_worker():
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster")
    except (ValueError, AttributeError) as error:
        raise errors.ConfigError(f"TF_CONFIG is not a JSON object ({error}); see "
                                 "tf.distribute.MultiWorkerMirroredStrategy") from error
    if not cluster:
        raise errors.ConfigError(
            "train.strategy=multi_worker needs TF_CONFIG naming the cluster and this task, "
            "e.g. {\"cluster\": {\"worker\": [\"host1:port\", \"host2:port\"]}, \"task\": "
            "{\"type\": \"worker\", \"index\": 0}}; or set train.strategy=mirrored")
    return tf.distribute.MultiWorkerMirroredStrategy()


def get(name):
    """The strategy `name`, created once per process: MultiWorkerMirroredStrategy sets up
    the process's collective ops, which TensorFlow allows once, before its first op."""
    if name not in _created:
        _created[name] = (_mirrored() if name == "mirrored" else
                          _multi_worker() if name == "multi_worker" else
                          tf.distribute.get_strategy())
    return _created[name]


_created = {}


def is_chief():
    """False only in a non-chief worker of multi_worker training."""
    return all(strategy.extended.should_checkpoint for strategy in _created.values())


def output_dir(workdir):
    """Where this process writes a run's files: `workdir`, except in a non-chief worker
    of multi_worker training, which writes to a scratch folder of its own, removed at
    exit (Keras's multi-worker saving pattern). Such a worker saves all the same: saving
    reads the BatchNorm statistics, which are synchronised on read by collective ops
    that every worker must join. Which stages are finished is read from `workdir`."""
    return workdir if is_chief() else _scratch()


@functools.cache
def _scratch():
    folder = tempfile.mkdtemp(prefix="tfprune-worker-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
