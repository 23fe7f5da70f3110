"""A cascade cycle prunes through its chunk's keep ratios before retraining, re-scoring
each on the network the previous one left, as the reference compresses through a
chunk's intermediate ratios (torchprune's _split_keep_ratios and _do_compression)."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import cascade, data, methods, models, storage, wrappers
from tfprune import config as config_lib

CHUNK_RATIOS = (0.4, 0.75)  # prune ratios of one chunk: an intermediate one, the target


def _copy(model):
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _by_hand(model, ratios, images):
    """Masks of pruning a copy of `model` with SiPP to each ratio in turn, the masks of
    each step applied to the kernels before the next one scores."""
    model = _copy(model)
    total = models.count_params(model)
    sipp = methods.get("sipp").bind()
    for ratio in ratios:
        methods.budget.apply(model, sipp(model, cascade.keep_budget(model, ratio, total),
                                         images))
    return [(k.numpy() != 0).astype(np.float32) for k in wrappers.prunable_kernels(model)]


@pytest.fixture(scope="module")
def parent():
    config = config_lib.base()
    dataset = data.load(config.data, 0)
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std, seed=0)
    return model, dataset, config


def test_the_callback_re_scores_through_the_chunk(parent):
    model, dataset, _ = parent
    images = dataset.val_images.astype(np.float32)
    total = models.count_params(model)
    wrapped = wrappers.wrap(_copy(model), wrappers.one_shot_schedule(CHUNK_RATIOS[-1]))
    prune = cascade.PruneToRatio(methods.get("sipp").bind(),
                                 [cascade.keep_budget(model, r, total) for r in CHUNK_RATIOS],
                                 images)
    prune.set_model(wrapped)
    prune.on_train_begin()
    installed = [layer.pruning_vars[0][1].numpy() for layer in wrappers.wrappers_of(wrapped)]
    two_steps = _by_hand(model, CHUNK_RATIOS, images)
    one_shot = _by_hand(model, CHUNK_RATIOS[-1:], images)
    assert all(np.array_equal(a, b) for a, b in zip(installed, two_steps))
    assert not all(np.array_equal(a, b) for a, b in zip(installed, one_shot))


def test_a_run_prunes_each_cycle_through_its_chunk(parent, tmp_path):
    """Spacing keep ratios 0.6, 0.25 in one cycle: its network is the two-step one."""
    model, dataset, _ = parent
    config = config_lib.base()
    config.prune.spacing = ("geometric(0.6, 0.25, 2)",)
    config.prune.cycles = 1
    config.prune.retrain_epochs = 0
    assert config_lib.target_chunks(config.prune) == [[0.6, 0.25]]
    parent_path = str(tmp_path / "parent.keras")
    storage.save_model(parent_path, model)
    cycle, = cascade.run("sipp", parent_path, dataset, config, str(tmp_path),
                         log=lambda _: None)
    assert cycle.target_ratio == 0.75
    pruned = storage.load_model(cycle.path)
    expected = _by_hand(model, (0.4, 0.75), dataset.val_images.astype(np.float32))
    for kernel, mask in zip(wrappers.prunable_kernels(pruned), expected):
        np.testing.assert_array_equal(kernel.numpy() != 0, mask == 1)
