"""gmp: TF-MOT's gradual magnitude pruning inside each cycle's retraining, through the
real wrappers and schedule: the per-layer sparsity rises to the cycle's target by
end_step and the masks stay fixed after it; in a run it prunes the same parent to the
same targets as wt, from each cycle's previous sparsity, and sits in the same tables."""
import glob
import os

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from conftest import random_dataset, tiny_config
from tfprune import cascade, config as config_lib, errors, methods, models, pipeline, tables
from tfprune import train, wrappers


class MasksPerStep(tf.keras.callbacks.Callback):
    """The wrappers' masks after every training step, by TF-MOT's step counter."""

    def __init__(self):
        super().__init__()
        self.masks = {}

    def on_train_batch_end(self, batch, logs=None):
        layers = wrappers.wrappers_of(self.model)
        self.masks[int(layers[0].pruning_step.numpy())] = [
            layer.pruning_vars[0][1].numpy().copy() for layer in layers]


def test_masks_rise_to_the_target_by_end_step_then_stay(tmp_path):
    dataset = random_dataset()
    config = config_lib.base()
    config.train.update(epochs=2, batch_size=8)
    config.data.augment = "none"
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std, seed=0)
    total = models.count_params(model)
    sparsity = 1 - cascade.keep_budget(model, 0.6, total) / wrappers.prunable_count(model)
    steps = 2 * train.steps_per_epoch(dataset, config.train)  # 16
    schedule = methods.get("gmp").bind(dict(gmp_end=0.5, gmp_frequency=2))(0.0, sparsity, steps)
    assert (schedule.begin_step, schedule.end_step, schedule.frequency) == (1, 7, 2)
    wrapped = wrappers.wrap(model, schedule, wrappers.MAGNITUDE)
    probe = MasksPerStep()
    train.fit(wrapped, dataset, config, 2, callbacks=[
        tfmot.sparsity.keras.UpdatePruningStep(), probe,
        tfmot.sparsity.keras.PruningSummaries(log_dir=str(tmp_path / "tb"))])
    assert sorted(probe.masks) == list(range(1, steps + 1))
    zeros = [sum(int(m.size - m.sum()) for m in probe.masks[step]) for step in sorted(probe.masks)]
    assert zeros[0] == 0 and all(b >= a for a, b in zip(zeros, zeros[1:]))
    assert zeros[4] < zeros[6]  # step 7, end_step, still prunes
    for step in range(schedule.end_step, steps + 1):
        for fixed, mask in zip(probe.masks[schedule.end_step], probe.masks[step]):
            np.testing.assert_array_equal(fixed, mask)
    for mask in probe.masks[steps]:  # TF-MOT's ranking: the same sparsity in every layer
        assert abs((1 - mask.mean()) - sparsity) < 0.01
    stripped = wrappers.strip(wrapped)
    achieved = 1 - cascade.nonzero_params(stripped) / total
    assert abs(achieved - 0.6) / 0.6 <= 0.005, achieved
    for kernel, mask in zip(wrappers.prunable_kernels(stripped), probe.masks[steps]):
        assert np.all(kernel.numpy()[mask == 0] == 0)
    assert glob.glob(os.path.join(tmp_path, "tb", "**", "events.out.tfevents.*"),
                     recursive=True), "PruningSummaries wrote no event file"


def test_a_cycle_too_short_to_prune_gradually_is_refused_in_one_line():
    with pytest.raises(errors.ConfigError, match=r"^config.prune.retrain_epochs: .* 1 training "
                                                 r"step; .*raise prune.retrain_epochs$"):
        methods.get("gmp").bind()(0.0, 0.5, 1)


def test_retraining_of_zero_epochs_is_refused():
    config = tiny_config()
    config.prune.methods = "wt,gmp"
    config.prune.retrain_epochs = 0
    with pytest.raises(errors.ConfigError, match=r"config.prune.retrain_epochs: 0: gmp prunes "
                                                 r"during retraining; set .* >= 1"):
        config_lib.validate(config)


def test_gmp_beside_wt_in_one_run_meets_each_target_from_the_last(tmp_path):
    config = tiny_config()
    config.prune.methods = "wt,gmp"
    config.prune.retrain_epochs = 2
    config.eval.noise_images = 0
    config.export.tflite = False
    results = pipeline.run(config, str(tmp_path), log=lambda _: None)
    gmp = results["methods"]["gmp"]
    assert gmp["masks"] == "gradual" and results["methods"]["wt"]["masks"] == "assigned"
    assert gmp["knobs"] == {"gmp_end": 0.8, "gmp_frequency": 100}
    cycles = gmp["cycles"]
    assert [c["prune_ratio"] for c in cycles] == pytest.approx([0.3, 0.6], rel=0.005)
    first, second = (c["schedule"] for c in cycles)
    assert first["initial_sparsity"] == 0.0
    assert second["initial_sparsity"] == pytest.approx(first["final_sparsity"])
    assert second["end_step"] < second["steps"]  # the final masks are trained with
    for cycle in cycles:  # one sparsity in every layer, not wt's global threshold
        spread = np.ptp(list(cycle["layer_sparsity"].values()))
        assert spread < 0.01, cycle["layer_sparsity"]
    printed = tables.table(results)
    assert "\ngmp: accuracy (%) by prune ratio" in printed and "\nwt: accuracy" in printed
    assert glob.glob(str(tmp_path / "tensorboard" / "gmp" / "cycle_02" / "**" / "events.*"),
                     recursive=True)
