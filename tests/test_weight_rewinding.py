"""Weight rewinding (prune.rewind=weights): the parent saves its weights after
prune.rewind_epoch epochs, and each cycle's retraining starts from them where the
cycle's masks keep a weight, pruned weights staying zero; a rerun reuses the saved
point (no parent retraining) and retrains cycles to the same networks; a workdir that
lacks the point is refused in one line."""
import os
import shutil

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from conftest import random_dataset, tiny_config
from tfprune import cascade, config as config_lib, errors, methods, models, pipeline, storage
from tfprune import train, workdir, wrappers


class WeightsAt(tf.keras.callbacks.Callback):
    """The network's weights when training begins (after the callbacks before it) and
    after each epoch."""

    def __init__(self, network=None):
        super().__init__()
        self.network, self.begin, self.epochs = network, None, []

    def _weights(self):
        return [w.numpy().copy() for w in (self.network or self.model).weights]

    def on_train_begin(self, logs=None):
        self.begin = self._weights()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(self._weights())


def test_surviving_weights_start_retraining_at_the_saved_epoch(tmp_path):
    dataset = random_dataset()
    config = config_lib.base()
    config.train.update(epochs=3, batch_size=16)
    config.data.augment = "none"
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std, seed=0)
    path = workdir.rewind_point(str(tmp_path), 1)
    parent_weights = WeightsAt()
    train.fit(model, dataset, config, 3, callbacks=[train.SaveRewindPoint(path, 1),
                                                     parent_weights])
    point = train.load_rewind_point(path, "parent.keras")
    for saved, at_epoch_1 in zip(point, parent_weights.epochs[0]):
        np.testing.assert_array_equal(saved, at_epoch_1)
    assert any(not np.array_equal(s, f) for s, f in zip(point, model.get_weights()))

    keep = cascade.keep_budget(model, 0.6, models.count_params(model))
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.6))
    started = WeightsAt(model)
    train.fit(wrapped, dataset, config, 1, callbacks=[
        cascade.PruneToRatio(methods.get("wt").bind(), [keep]),
        train.RewindWeights(model, point), started, tfmot.sparsity.keras.UpdatePruningStep()])
    masks = {layer.layer.kernel.ref(): layer.pruning_vars[0][1].numpy()
             for layer in wrappers.wrappers_of(wrapped)}
    for weight, saved, begin in zip(model.weights, point, started.begin):
        if weight.ref() in masks:  # a kernel: the saved value where kept, else zero
            np.testing.assert_array_equal(begin, saved * masks[weight.ref()])
            assert 0 < masks[weight.ref()].mean() < 1
        else:  # biases, BatchNorm (no dead channel at 60%): the saved values
            np.testing.assert_array_equal(begin, saved)


def _config():
    config = tiny_config()
    config.train.epochs = 2
    config.prune.rewind = "weights"
    config.prune.rewind_epoch = 1
    config.eval.noise_images = 0
    config.export.tflite = False
    return config


def _cycle_weights(run_dir, index):
    path = workdir.checkpoint(run_dir, workdir.cycle_id("wt", index))
    return storage.load_model(path).get_weights()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("rewind") / "run")
    return run_dir, pipeline.run(_config(), run_dir, log=lambda _: None)


def test_a_run_records_the_rewinding_and_a_rerun_retrains_cycles_alike(finished, tmp_path):
    run_dir, results = finished
    assert storage.exists(workdir.rewind_point(run_dir, 1))
    for cycle in results["methods"]["wt"]["cycles"]:
        assert cycle["rewind"] == {"kind": "weights", "epoch": 1}
    copy = str(tmp_path / "copy")
    shutil.copytree(run_dir, copy)
    for index in (1, 2):
        path = workdir.checkpoint(copy, workdir.cycle_id("wt", index))
        os.remove(path)
        os.remove(workdir.record(path))
    logs = []
    again = pipeline.run(_config(), copy, log=logs.append)
    assert any(line.startswith("parent: reusing") for line in logs)
    for index in (1, 2):
        for first, second in zip(_cycle_weights(run_dir, index), _cycle_weights(copy, index)):
            np.testing.assert_array_equal(first, second)
    assert [c["prune_ratio"] for c in again["methods"]["wt"]["cycles"]] == [
        c["prune_ratio"] for c in results["methods"]["wt"]["cycles"]]


def test_a_workdir_without_the_rewind_point_is_refused_in_one_line(finished, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(finished[0], copy)
    os.remove(workdir.rewind_point(copy, 1))
    path = workdir.checkpoint(copy, workdir.cycle_id("wt", 2))
    os.remove(path)
    with pytest.raises(errors.WorkdirError) as refused:
        pipeline.run(_config(), copy, log=lambda _: None)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(workdir.rewind_point(copy, 1))
    assert "prune.rewind=lr" in message


def test_a_rewind_epoch_past_the_parents_training_is_refused():
    config = _config()
    config.prune.rewind_epoch = 3
    with pytest.raises(errors.ConfigError, match=r"config.prune.rewind_epoch: 3 is out of "
                                                 r"range; allowed: \[0, 2\]"):
        config_lib.validate(config)
