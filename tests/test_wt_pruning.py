"""WT through the real TF-MOT wrappers: global masks, exact budgets, fixed during retraining."""
import glob
import os

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from conftest import random_dataset
from tfprune import cascade, config as config_lib, methods, models, train, wrappers


@pytest.fixture(scope="module")
def tiny():
    """A trained-for-one-epoch small CNN and a random data set of 32x32 images."""
    dataset = random_dataset()
    config = config_lib.base()
    config.train.epochs = 1
    config.train.batch_size = 32
    config.data.augment = "none"
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std, seed=0)
    train.fit(model, dataset, config, 1)
    return model, dataset, config


def _retrain_with_wt(model, dataset, config, ratio, tmp_path):
    total = models.count_params(model)
    keep = cascade.keep_budget(model, ratio, total)
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.5))
    prune = cascade.PruneToRatio(methods.get("wt").bind(), [keep])
    train.fit(wrapped, dataset, config, 1, callbacks=[
        prune, tfmot.sparsity.keras.UpdatePruningStep(),
        tfmot.sparsity.keras.PruningSummaries(log_dir=str(tmp_path / "tb"))])
    return wrapped, total


@pytest.mark.parametrize("ratio", [0.3, 0.7, 0.9])
def test_wt_hits_the_target_ratio_of_all_parameters(tiny, ratio, tmp_path):
    model, dataset, config = tiny
    model = tf.keras.models.clone_model(model)  # each ratio from the same start
    model.set_weights(tiny[0].get_weights())
    wrapped, total = _retrain_with_wt(model, dataset, config, ratio, tmp_path)
    stripped = wrappers.strip(wrapped)
    achieved = 1 - cascade.nonzero_params(stripped) / total
    assert abs(achieved - ratio) / ratio <= 0.005, (achieved, ratio)
    assert not any(isinstance(l, wrappers.PruneWithAssignedMask) for l in stripped.layers)


def test_wt_masks_are_global_and_survive_retraining(tiny, tmp_path):
    model, dataset, config = tiny
    model = tf.keras.models.clone_model(model)
    model.set_weights(tiny[0].get_weights())
    before = [np.abs(k.numpy()) for k in wrappers.prunable_kernels(model)]
    wrapped, _ = _retrain_with_wt(model, dataset, config, 0.6, tmp_path)
    masks = [layer.pruning_vars[0][1].numpy() for layer in wrappers.wrappers_of(wrapped)]
    assigned = [layer.assigned_vars[0][1].numpy() for layer in wrappers.wrappers_of(wrapped)]
    for mask, chosen in zip(masks, assigned):
        np.testing.assert_array_equal(mask, chosen)  # TF-MOT installed the method's masks
    kept = np.concatenate([b[m > 0] for b, m in zip(before, masks)])
    pruned = np.concatenate([b[m == 0] for b, m in zip(before, masks)])
    assert kept.min() >= pruned.max()  # one threshold over all layers
    per_layer = [1 - m.mean() for m in masks]
    assert max(per_layer) - min(per_layer) > 0.05  # not TF-MOT's uniform per-layer sparsity
    for kernel, mask in zip(wrappers.prunable_kernels(wrappers.strip(wrapped)), masks):
        assert np.all(kernel.numpy()[mask == 0] == 0)  # still zero after an epoch of training
    events = glob.glob(os.path.join(tmp_path, "tb", "**", "events.out.tfevents.*"), recursive=True)
    assert events, "PruningSummaries wrote no event file"


def test_top_k_breaks_ties_by_position_and_never_overshoots():
    scores = [np.ones((2, 2)), np.ones(3)]
    masks, thresholds = methods.budget.top_k_masks(scores, 3)
    assert sum(m.sum() for m in masks) == 3
    np.testing.assert_array_equal(masks[0], [[1, 1], [1, 0]])
    assert thresholds == [1.0, 1.0]
