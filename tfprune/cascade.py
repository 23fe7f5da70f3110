"""Iterative prune-retrain ("cascade") of one method: each cycle prunes the previous
cycle's network to the next target ratio and retrains it with the rewound schedule.

How a cycle's masks come about is the method's declaration (tfprune.methods.registry):
a method that assigns them chooses them in a Keras callback when retraining begins, and
TF-MOT's one-shot schedule installs them at the first step and keeps them fixed; gmp's
come from TF-MOT's magnitude pruning during retraining (its schedule from the previous
cycle's sparsity to the cycle's); m_by_n's are TF-MOT's 2:4 masks, made once. Weight
rewinding (prune.rewind=weights) then resets the surviving weights to the parent's
rewind point. Each finished cycle is saved (stripped, atomically) before the next
begins, so a rerun continues after the last finished cycle.
"""
import dataclasses
import time

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from export import variants as variants_lib
from tfprune import config as config_lib
from tfprune import methods as methods_lib
from tfprune import strategy as strategy_lib
from tfprune import models, precision, storage, train, workdir, wrappers


def keep_budget(model, prune_ratio, total_params):
    """Prunable weights to keep so that `prune_ratio` of all parent parameters is gone."""
    prunable = wrappers.prunable_count(model)
    unprunable = models.count_params(model) - prunable
    return int(np.clip(round((1.0 - prune_ratio) * total_params) - unprunable, 0, prunable))


def nonzero_params(model):
    return int(sum(np.count_nonzero(w.numpy()) for w in model.trainable_weights))


def layer_sparsity(model):
    return {layer.name: float(1.0 - np.count_nonzero(layer.kernel.numpy())
                              / layer.kernel.shape.num_elements())
            for layer in wrappers.prunable_layers(model)}


class InstallFirstMasks(tf.keras.callbacks.Callback):
    """When retraining begins, TF-MOT's own wrappers make and apply their first masks
    (tfprune.wrappers.install_first_masks): m_by_n's, chosen on the cycle's starting
    weights before any rewinding."""

    def on_train_begin(self, logs=None):
        wrappers.install_first_masks(self.model)


class PruneToRatio(tf.keras.callbacks.Callback):
    """When retraining begins, the method prunes through the cycle's keep budgets in
    order, each re-scored on the network the previous one left (as the reference
    compresses through a chunk's intermediate ratios); the last is the cycle's target.

    Its masks hold every weight that is zero then, as the reference's sparsity pattern
    does. The rule's other zeroing (tfprune.structure) is applied with each step; under
    the graph rule the BatchNorm scale and shift of dead channels are also zeroed after
    every training step, so a dead channel outputs exactly zero.

    The method scores and prunes `network` (default: the wrapped model), the float32
    network the cycle starts from, whatever the training precision; the result is copied
    into `trained`, its copy under the training policy (tfprune.precision) that the
    wrapped model wraps.

    Under a tf.distribute strategy, Keras calls these hooks in cross-replica context:
    reading a mirrored variable there gives its value (the same on every replica) and
    assigning it writes every replica's copy, so masks and norms stay in sync without a
    merge_call; each worker of multi_worker computes and assigns the same values.
    """

    def __init__(self, method, keep_counts, images=None, labels=None, network=None,
                 trained=None):
        super().__init__()
        self._supports_tf_logs = True  # the step hook must not pull logs to the host
        self.method = method
        self.keep_counts = list(keep_counts)
        self.images, self.labels = images, labels
        self.network, self.trained = network, trained
        self._held = []

    def on_train_begin(self, logs=None):
        network = self.model if self.network is None else self.network
        trained = network if self.trained is None else self.trained
        for keep_count in self.keep_counts:
            pruned = self.method(network, keep_count, self.images, self.labels)
            methods_lib.budget.apply(network, pruned)
        if trained is not network:
            trained.set_weights(network.get_weights())
        masks = [(k.numpy() != 0).astype(np.float32)
                 for k in wrappers.prunable_kernels(self.model)]
        wrappers.assign_masks(self.model, masks, pruned.thresholds)
        position = {weight.ref(): i for i, weight in enumerate(network.weights)}
        self._held = [(trained.weights[position[weight.ref()]], tf.constant(keep, tf.float32))
                      for weight, keep in pruned.others] if pruned.held else []

    def on_train_batch_end(self, batch, logs=None):
        if self._held:
            self._zero_held()

    @tf.function
    def _zero_held(self):
        for weight, keep in self._held:
            weight.assign(weight * keep)


@dataclasses.dataclass
class Cycle:
    method: str
    index: int
    target_ratio: float
    network_id: str
    path: str  # the stripped checkpoint


def _masking(declared, method, model, trained, keep_counts, sparsity_before, steps, data):
    """(wrapped model, the callbacks that make its masks, what the record adds) of one
    cycle of the `declared` method (bound: `method`), by how its masks come about."""
    sparsity = 1.0 - keep_counts[-1] / wrappers.prunable_count(model)
    if declared.masks == methods_lib.GRADUAL:
        schedule = method(sparsity_before, sparsity, steps)
        return (wrappers.wrap(trained, schedule, wrappers.MAGNITUDE), [],
                dict(schedule=dict(schedule.get_config()["config"], steps=steps)))
    if declared.masks == methods_lib.M_BY_N:
        options = method(model)
        zeros, block = options["sparsity_m_by_n"]
        wrapped = wrappers.wrap(trained, wrappers.one_shot_schedule(zeros / block),
                                wrappers.MAGNITUDE, **options)
        return wrapped, [InstallFirstMasks()], {}
    wrapped = wrappers.wrap(trained, wrappers.one_shot_schedule(sparsity))
    return wrapped, [PruneToRatio(method, keep_counts, *data, model, trained)], {}


def run(method_name, parent_path, dataset, config, run_dir, log=print):
    """Yield each finished cycle (method, index, ratio, id, checkpoint), training those not
    done: one per chunk of config_lib.target_chunks, pruned through its keep ratios.

    Networks are loaded, wrapped, trained and stripped under the config's strategy
    (tfprune.strategy), and left outside it while the caller evaluates a cycle.
    """
    declared = methods_lib.get(method_name)
    method = declared.bind(config.prune)
    strategy = strategy_lib.get(config.train.strategy)
    output = strategy_lib.output_dir(run_dir)
    with strategy.scope():
        model = storage.load_model(parent_path)
    chosen = precision.resolve(config.train.precision, network=model)
    total_params = models.count_params(model)
    images, labels = dataset.val_images.astype(np.float32), dataset.val_labels
    ratios = config_lib.target_ratios(config.prune)
    chunks = config_lib.target_chunks(config.prune)
    epochs = config.prune.retrain_epochs
    rewind_point = None  # read when a cycle is to be trained
    for index, (ratio, chunk) in enumerate(zip(ratios, chunks), start=1):
        network_id = workdir.cycle_id(method_name, index)
        cycle = Cycle(method_name, index, ratio, network_id,
                      workdir.checkpoint(run_dir, network_id))
        record_path = workdir.record(cycle.path)
        backup_dir = workdir.backup(run_dir, network_id)
        if storage.exists(cycle.path) and storage.exists(record_path):
            train.discard_backup(backup_dir)  # left behind if a crash followed the record
            with strategy.scope():
                model = storage.load_model(cycle.path)
            yield cycle
            continue
        started = time.time()
        keep_counts = [keep_budget(model, r, total_params)
                       for r in [1.0 - keep for keep in chunk[:-1]] + [ratio]]
        if config.prune.rewind == "weights" and rewind_point is None:
            rewind_point = train.load_rewind_point(
                workdir.rewind_point(run_dir, config.prune.rewind_epoch), parent_path)
        saved_path = workdir.checkpoint(output, network_id)
        log_dir = workdir.training_logs(output, network_id)
        # gmp starts where the previous cycle ended: its per-layer sparsity
        sparsity_before = 1.0 - keep_budget(model, ratios[index - 2] if index > 1 else 0.0,
                                            total_params) / wrappers.prunable_count(model)
        with strategy.scope():
            trained = precision.with_policy(model, chosen.policy)
            wrapped, starting, added = _masking(
                declared, method, model, trained, keep_counts, sparsity_before,
                epochs * train.steps_per_epoch(dataset, config.train), (images, labels))
            if rewind_point is not None:
                starting.append(train.RewindWeights(trained, rewind_point))
            callbacks = [*starting, tfmot.sparsity.keras.UpdatePruningStep(),
                         tfmot.sparsity.keras.PruningSummaries(log_dir=log_dir)]
            if epochs == 0:
                for callback in starting:
                    callback.set_model(wrapped)
                    callback.on_train_begin()
            history = train.fit(wrapped, dataset, config, epochs, callbacks,
                                seed=config.seed + index, backup_dir=backup_dir,
                                stage=f"{method_name} cycle {index} (prune ratio {ratio:.3f})")
            storage.save_model(saved_path, precision.with_policy(wrappers.strip(wrapped),
                                                                 precision.FLOAT32))
            # Continue from the file, as a resumed run does, so both see the same network.
            model = storage.load_model(saved_path)
        if declared.check:
            added[method_name] = declared.check(model, variants_lib.convert(model, "float32"))
        achieved = 1.0 - nonzero_params(model) / total_params
        storage.write_json(workdir.record(saved_path), dict(
            method=method_name, index=index, target_ratio=ratio, prune_ratio=achieved,
            params_total=total_params, params_nonzero=nonzero_params(model),
            layer_sparsity=layer_sparsity(model), history=history,
            replicas=strategy.num_replicas_in_sync, precision=chosen.as_dict(),
            rewind=dict(kind=config.prune.rewind, **(
                {} if rewind_point is None else {"epoch": config.prune.rewind_epoch})),
            train_seconds=time.time() - started, **added))
        train.discard_backup(backup_dir)
        log(f"[{method_name}] cycle {index}/{len(ratios)}: target {ratio:.1%}, pruned "
            f"{achieved:.2%} of {total_params:,} parameters, val acc "
            f"{history.get('val_accuracy', [float('nan')])[-1]:.4f}, {time.time() - started:.0f}s"
            + (f"; {added[method_name]['verdict']}" if declared.check else ""))
        yield cycle

