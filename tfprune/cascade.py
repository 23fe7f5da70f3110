"""Iterative prune-retrain ("cascade") of one method: each cycle prunes the previous
cycle's network to the next target ratio and retrains it with the rewound schedule.

A Keras callback lets the method choose the masks when retraining begins; TF-MOT's
one-shot schedule installs them at the first step and keeps them fixed. Each finished
cycle is saved (stripped, atomically) before the next begins, so a rerun continues
after the last finished cycle.
"""
import dataclasses
import os
import time

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from tfprune import storage
from tfprune import methods as methods_lib
from tfprune import strategy as strategy_lib
from tfprune import models, structure, train, wrappers


def keep_budget(model, prune_ratio, total_params):
    """Prunable weights to keep so that `prune_ratio` of all parent parameters is gone."""
    prunable = sum(int(np.prod(k.shape)) for k in wrappers.prunable_kernels(model))
    unprunable = models.count_params(model) - prunable
    return int(np.clip(round((1.0 - prune_ratio) * total_params) - unprunable, 0, prunable))


def nonzero_params(model):
    return int(sum(np.count_nonzero(w.numpy()) for w in model.trainable_weights))


def layer_sparsity(model):
    return {layer.name: float(1.0 - np.count_nonzero(layer.kernel.numpy()) / layer.kernel.shape.num_elements())
            for layer in wrappers.prunable_layers(model)}


class PruneToRatio(tf.keras.callbacks.Callback):
    """When retraining begins, the method chooses the masks for the cycle's target.

    The BatchNorm scale and shift of channels the masks leave dead are zeroed then and
    after every step, so a dead channel outputs exactly zero (see tfprune.structure).

    Under a tf.distribute strategy, Keras calls these hooks in cross-replica context:
    reading a mirrored variable there gives its value (the same on every replica) and
    assigning it writes every replica's copy, so masks and norms stay in sync without a
    merge_call; each worker of multi_worker computes and assigns the same values.
    """

    def __init__(self, method, keep_count, scoring_images):
        super().__init__()
        self._supports_tf_logs = True  # the step hook must not pull logs to the host
        self.method = method
        self.keep_count = keep_count
        self.scoring_images = scoring_images
        self._dead_norms = []

    def on_train_begin(self, logs=None):
        masks, thresholds = self.method(self.model, self.keep_count, self.scoring_images)
        wrappers.assign_masks(self.model, masks, thresholds)
        _, norm_channels = structure.settle(self.model, masks)
        self._dead_norms = [(self.model.get_layer(name), tf.constant(keep, tf.float32))
                            for name, keep in norm_channels.items()]
        self._zero_dead_norms()

    def on_train_batch_end(self, batch, logs=None):
        if self._dead_norms:
            self._zero_dead_norms()

    @tf.function
    def _zero_dead_norms(self):
        for layer, keep in self._dead_norms:
            for weight in layer.trainable_weights:
                weight.assign(weight * keep)


@dataclasses.dataclass
class Cycle:
    method: str
    index: int
    target_ratio: float
    path: str  # the stripped checkpoint

    @property
    def network_id(self):
        return f"{self.method}-{self.index:02d}"


def run(method_name, parent_path, ratios, dataset, config, workdir, log=print):
    """Yield each finished cycle (method, index, ratio, checkpoint), training those not done.

    Networks are loaded, wrapped, trained and stripped under the config's strategy
    (tfprune.strategy), and left outside it while the caller evaluates a cycle.
    """
    method = methods_lib.get(method_name, config.prune.channel_multiple)
    strategy = strategy_lib.get(config.train.strategy)
    output = strategy_lib.output_dir(workdir)
    with strategy.scope():
        model = storage.load_model(parent_path)
    total_params = models.count_params(model)
    scoring_images = dataset.val_images.astype(np.float32)
    for index, ratio in enumerate(ratios, start=1):
        cycle = Cycle(method_name, index, ratio, _cycle_path(workdir, method_name, index))
        record_path = cycle.path.replace(".keras", ".json")
        backup_dir = os.path.join(workdir, "backup", method_name, f"cycle_{index:02d}")
        if storage.exists(cycle.path) and storage.exists(record_path):
            train.discard_backup(backup_dir)  # left behind if a crash followed the record
            with strategy.scope():
                model = storage.load_model(cycle.path)
            yield cycle
            continue
        started = time.time()
        keep_count = keep_budget(model, ratio, total_params)
        prunable_count = sum(int(np.prod(k.shape)) for k in wrappers.prunable_kernels(model))
        saved_path = _cycle_path(output, method_name, index)
        epochs = config.prune.retrain_epochs
        log_dir = os.path.join(output, "tensorboard", method_name, f"cycle_{index:02d}")
        with strategy.scope():
            wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(
                1.0 - keep_count / prunable_count))
            prune = PruneToRatio(method, keep_count, scoring_images)
            callbacks = [prune, tfmot.sparsity.keras.UpdatePruningStep(),
                         tfmot.sparsity.keras.PruningSummaries(log_dir=log_dir)]
            if epochs == 0:
                prune.set_model(wrapped)
                prune.on_train_begin()
            history = train.fit(wrapped, dataset, config, epochs, callbacks,
                                seed=config.seed + index, backup_dir=backup_dir,
                                stage=f"{method_name} cycle {index} (prune ratio {ratio:.3f})")
            storage.save_model(saved_path, wrappers.strip(wrapped))
            # Continue from the file, as a resumed run does, so both see the same network.
            model = storage.load_model(saved_path)
        achieved = 1.0 - nonzero_params(model) / total_params
        storage.write_json(saved_path.replace(".keras", ".json"), dict(
            method=method_name, index=index, target_ratio=ratio, prune_ratio=achieved,
            params_total=total_params, params_nonzero=nonzero_params(model),
            layer_sparsity=layer_sparsity(model), history=history,
            replicas=strategy.num_replicas_in_sync, train_seconds=time.time() - started))
        train.discard_backup(backup_dir)
        log(f"[{method_name}] cycle {index}/{len(ratios)}: target {ratio:.1%}, pruned "
            f"{achieved:.2%} of {total_params:,} parameters, val acc "
            f"{history.get('val_accuracy', [float('nan')])[-1]:.4f}, {time.time() - started:.0f}s")
        yield cycle


def _cycle_path(workdir, method_name, index):
    """A cycle's stripped checkpoint (its record: the same path ending in .json)."""
    return os.path.join(workdir, "checkpoints", method_name, f"cycle_{index:02d}.keras")
