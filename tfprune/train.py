"""Training of the parent and retraining of each pruned network: SGD, warm-up, lr decay.

SGD runs as the study's reference (PyTorch) runs it: L2 weight decay coupled to the
gradient. Retraining rewinds the learning-rate schedule (Renda et al. 2020, as the
study): the same schedule restarts, either with its epochs (the reference) or scaled to
the retraining length (`prune.retrain_schedule`). Weight rewinding (Frankle et al. 2019,
Renda et al. 2020; `prune.rewind=weights`) also resets each cycle's surviving weights to
the parent's after `prune.rewind_epoch` epochs of its training, saved then.
"""
import os
import sys

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import data as data_lib
from tfprune import precision, storage
from tfprune import strategy as strategy_lib
from tfprune import errors


# train.lr_schedule: multistep (lr_milestones) | step (every lr_step_epochs) | one_cycle
# (triangular, peak at one_cycle_peak of the epochs)
LR_SCHEDULES = ("multistep", "step", "one_cycle")
# prune.retrain_schedule: rescaled (the schedule compressed to the retraining's epochs) |
# as_training (its epochs kept, as the reference retrains)
RETRAIN_SCHEDULES = ("rescaled", "as_training")
# prune.rewind: lr (retraining starts from the pruned network's weights) | weights (its
# surviving weights reset to the parent's at prune.rewind_epoch first)
REWINDS = ("lr", "weights")


@tf.keras.utils.register_keras_serializable("tfprune")
class WarmupDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 (step s of w: lr * s / w, as the reference's WarmupLR),
    then piecewise-constant decay at the given steps."""

    def __init__(self, base_lr, warmup_steps, boundaries, gamma):
        super().__init__()
        self.base_lr = float(base_lr)
        self.warmup_steps = int(warmup_steps)
        self.boundaries = [int(b) for b in boundaries]
        self.gamma = float(gamma)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decays = tf.reduce_sum(tf.cast(step >= tf.constant(self.boundaries + [np.inf],
                                                           tf.float32), tf.float32))
        lr = self.base_lr * tf.pow(self.gamma, decays)
        if self.warmup_steps:
            lr *= tf.minimum(1.0, step / self.warmup_steps)
        return lr

    def get_config(self):
        return dict(base_lr=self.base_lr, warmup_steps=self.warmup_steps,
                    boundaries=self.boundaries, gamma=self.gamma)


@tf.keras.utils.register_keras_serializable("tfprune")
class OneCycle(tf.keras.optimizers.schedules.LearningRateSchedule):
    """The triangular one-cycle schedule (Smith & Topin 2019): linear from base_lr /
    START_DIVISOR up to base_lr at `peak_step`, then linear down to 0 at `total_steps`.
    It converges in few epochs, which a CPU-sized parent needs."""
    START_DIVISOR = 25.0

    def __init__(self, base_lr, peak_step, total_steps):
        super().__init__()
        self.base_lr = float(base_lr)
        self.peak_step = max(int(peak_step), 1)
        self.total_steps = max(int(total_steps), self.peak_step + 1)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        start = self.base_lr / self.START_DIVISOR
        rising = start + (self.base_lr - start) * step / self.peak_step
        falling = self.base_lr * (self.total_steps - step) / (self.total_steps - self.peak_step)
        return tf.maximum(tf.where(step < self.peak_step, rising, falling), 0.0)

    def get_config(self):
        return dict(base_lr=self.base_lr, peak_step=self.peak_step,
                    total_steps=self.total_steps)


@tf.keras.utils.register_keras_serializable("tfprune")
class CoupledSGD(tf.keras.optimizers.SGD):
    """SGD with momentum as torch.optim.SGD computes it, the study's optimizer: weight
    decay is added to the gradient before momentum, and the momentum buffer sums
    gradients (lr applied after), so a learning-rate step acts at once:
        g' = g + wd * w;  b = momentum * b + g';  w -= lr * (g' + momentum * b if
        nesterov else b).
    tf.keras' own `weight_decay` is decoupled (w -= lr * wd * w beside the step), about
    10x weaker at momentum 0.9. Decay applies to every trainable weight, as PyTorch's."""

    def __init__(self, learning_rate, momentum=0.0, nesterov=False, l2=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
                         **kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable):
        lr = tf.cast(self.learning_rate, variable.dtype)
        momentum = tf.cast(self.momentum, variable.dtype)
        gradient = tf.convert_to_tensor(gradient) + tf.cast(self.l2, variable.dtype) * variable
        buffer = self.momentums[self._index_dict[self._var_key(variable)]]
        buffer.assign(momentum * buffer + gradient)
        variable.assign_sub(lr * (gradient + momentum * buffer if self.nesterov else buffer))

    def get_config(self):
        return dict(super().get_config(), l2=self.l2)


def lr_schedule(train_config, epochs, steps_per_epoch, rescale=True):
    """The config's schedule over `epochs`. `rescale`: milestones and steps scale from
    `train.epochs` to `epochs`; else they keep their epochs (those past `epochs` never
    come), as the reference retrains."""
    scale = epochs / train_config.epochs if train_config.epochs and rescale else 1.0
    if train_config.lr_schedule == "one_cycle":
        length = train_config.epochs * scale * steps_per_epoch
        return OneCycle(train_config.lr, round(train_config.one_cycle_peak * length), round(length))
    if train_config.lr_schedule == "multistep":
        milestones = [m * scale for m in train_config.lr_milestones]
    else:
        every = train_config.lr_step_epochs * scale
        milestones = list(np.arange(every, epochs, every)) if every > 0 else []
    boundaries = [int(round(m * steps_per_epoch)) for m in milestones]
    warmup = int(round(min(train_config.warmup_epochs, epochs) * steps_per_epoch))
    return WarmupDecay(train_config.lr, warmup, boundaries, train_config.lr_gamma)


def compile_model(model, train_config, epochs, steps_per_epoch, rescale=True):
    optimizer = CoupledSGD(
        learning_rate=lr_schedule(train_config, epochs, steps_per_epoch, rescale),
        momentum=train_config.momentum, nesterov=train_config.nesterov,
        l2=train_config.weight_decay)
    model.compile(optimizer=precision.loss_scaled(optimizer, precision.policy_of(model)),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=train_config.jit_compile)


class StopOnNaN(tf.keras.callbacks.Callback):
    """Stops at a non-finite loss so that the run can fail with a message, not NaN weights.

    It looks at the end of each epoch: reading the loss after every batch forces a
    device sync per step, which cost a third of ResNet20's training throughput here.
    """

    def __init__(self):
        super().__init__()
        self.failed = False

    def on_epoch_end(self, epoch, logs=None):
        if logs and not np.isfinite(logs.get("loss", 0.0)):
            self.failed = True
            self.model.stop_training = True


class SaveRewindPoint(tf.keras.callbacks.Callback):
    """Saves the network's weights (BatchNorm statistics too) after `epoch` epochs of its
    training (0: before its first step), weight rewinding's point. A resumed training
    that has passed the epoch leaves the saved file as it is; under multi_worker it is
    the chief's to write."""

    def __init__(self, path, epoch):
        super().__init__()
        self.path, self.epoch = path, epoch

    def on_train_begin(self, logs=None):
        if self.epoch == 0 and not storage.exists(self.path):  # a rerun starts from the same init
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            self._save()

    def _save(self):
        if strategy_lib.is_chief():
            storage.save_arrays(self.path, {f"{i:04d}": weight.numpy()
                                            for i, weight in enumerate(self.model.weights)})


def load_rewind_point(path, parent_path):
    """The weights SaveRewindPoint saved, in the network's weight order; refused in one
    line when missing or unreadable (a parent trained without it, or a deleted file)."""
    stored = storage.load_arrays(path, ())
    if not stored:
        raise errors.WorkdirError(
            f"{path} is missing or unreadable: prune.rewind=weights resets each cycle to the "
            f"parent's weights saved there while it trained; delete {parent_path} to train the "
            "parent again with them, or use prune.rewind=lr in a new --workdir")
    return [stored[key] for key in sorted(stored)]


class RewindWeights(tf.keras.callbacks.Callback):
    """Weight rewinding when retraining begins, once the cycle's masks are in place (list
    it after the callback that installs them): every trainable weight of `network` (the
    model the wrappers wrap) is reset to `point` where it is non-zero, pruned ones stay
    zero; the other weights (BatchNorm statistics) are reset whole."""

    def __init__(self, network, point):
        super().__init__()
        self.network, self.point = network, point

    def on_train_begin(self, logs=None):
        weights = self.network.weights
        if [tuple(w.shape) for w in weights] != [v.shape for v in self.point]:
            raise errors.WorkdirError("the rewind point does not fit the network (another "
                                      "model); use a new --workdir")
        for weight, value in zip(weights, self.point):
            weight.assign(np.where(weight.numpy() != 0, value, 0) if weight.trainable else value)


def finished_epochs(backup_dir):
    """Epochs an interrupted run of a stage finished, from its BackupAndRestore backup."""
    latest = tf.train.latest_checkpoint(os.path.join(backup_dir, "chief"))
    if latest is None:
        return 0
    return int(tf.train.load_variable(latest, "ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE")) + 1


class BackupEveryEpoch(tf.keras.callbacks.BackupAndRestore):
    """Keras's BackupAndRestore (model with its pruning wrappers, optimizer and epoch,
    saved at every epoch's end), which also keeps the finished epochs' logs, so that a
    resumed stage reports its whole history. The backup outlives `fit`: the caller
    discards it once the stage's result is saved, so no crash loses more than an epoch.
    Under multi_worker, Keras writes the chief's backup to `backup_dir/chief` (the other
    workers back up to temporary folders) and every worker restores from it; the logs
    are the chief's to write.
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, delete_checkpoint=False)
        self.done = finished_epochs(backup_dir)
        self.history_path = os.path.join(backup_dir, "history.json")
        stored = {}
        if self.done and storage.exists(self.history_path):
            stored = storage.read_json(self.history_path)
        # The logs are written before the checkpoint: drop an epoch the checkpoint lacks.
        self.history = {key: values[: self.done] for key, values in stored.items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if strategy_lib.is_chief():
            storage.write_json(self.history_path, self.history)
        super().on_epoch_end(epoch, logs)


def discard_backup(backup_dir):
    """Remove a finished stage's backup, and its parent folders once they are empty
    (the chief's job, under multi_worker: the others read the backup it wrote)."""
    if strategy_lib.is_chief():
        storage.remove_tree(backup_dir)


def steps_per_epoch(dataset, train_config):
    return int(np.ceil(len(dataset.train_labels) / train_config.batch_size))


def fit(model, dataset, config, epochs, callbacks=(), seed=0, stage="training",
        backup_dir=None):
    """Train `model` on the training split for `epochs` with the config's schedule.

    `seed` fixes shuffling and augmentation of this stage alone, so a resumed run
    trains each stage as an uninterrupted one does. With `backup_dir`, the stage backs
    up every epoch there and, when rerun after a crash, continues from the last backup,
    on the same batches as an uninterrupted run (see tfprune.data.train_pipeline).

    The model must have been created under the strategy's scope (tfprune.strategy): its
    optimizer is created under the same scope here, and Keras splits each global batch
    of `train.batch_size` among the replicas.
    """
    train_config = config.train
    tf.keras.utils.set_random_seed(seed)
    steps = steps_per_epoch(dataset, train_config)
    with model.distribute_strategy.scope():
        compile_model(model, train_config, epochs, steps,
                      rescale=config.prune.retrain_schedule == "rescaled")
    if epochs == 0:
        return {}
    nan_guard = StopOnNaN()
    # After the caller's callbacks: a cycle's masks are chosen on its starting network,
    # as in an uninterrupted run, and then the backup (masks included) is restored.
    backup = [BackupEveryEpoch(backup_dir)] if backup_dir else []
    done = backup[0].done if backup else 0
    history = model.fit(
        data_lib.train_pipeline(dataset.train_images, dataset.train_labels,
                                train_config.batch_size, config.data.augment, seed,
                                config.data.train_shift,
                                start=done * steps * train_config.batch_size,
                                batch_augment=config.data.batch_augment),
        validation_data=data_lib.eval_pipeline(dataset.val_images, dataset.val_labels,
                                               config.eval.batch_size),
        epochs=epochs, steps_per_epoch=steps, callbacks=[nan_guard, *callbacks, *backup],
        verbose=1 if sys.stdout.isatty() else 2)
    if nan_guard.failed:
        if backup_dir:
            discard_backup(backup_dir)  # a diverged state is nothing to resume from
        raise errors.TrainingError(f"{stage}: the loss became NaN or infinite; lower train.lr "
                                   f"(now {train_config.lr}) or raise train.warmup_epochs")
    logs = backup[0].history if backup else history.history
    return {k: [float(v) for v in vals] for k, vals in logs.items()}
