"""A dead channel outputs exactly zero: its BatchNorm scale and shift are zeroed when
the masks are chosen and stay zero through retraining, and count as removed."""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from tfprune import cascade, config as config_lib, data, methods, models, structure, train
from tfprune import wrappers


def test_dead_channels_keep_zero_norms_through_retraining_and_output_zero(tmp_path):
    config = config_lib.base()
    config.train.update(epochs=1, batch_size=64)
    dataset = data.load(config.data, 0)
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std, seed=0)
    train.fit(model, dataset, config, 1)
    total = models.count_params(model)
    ratio = 0.7
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(ratio))
    prune = cascade.PruneToRatio(methods.get("ft").bind(),
                                 [cascade.keep_budget(model, ratio, total)],
                                 dataset.val_images.astype(np.float32))
    train.fit(wrapped, dataset, config, 1, callbacks=[
        prune, tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = wrappers.strip(wrapped)
    fresh = tf.keras.models.clone_model(stripped)  # its layers belong to this graph only
    fresh.set_weights(stripped.get_weights())

    masks = [(k.numpy() != 0).astype(np.float32) for k in wrappers.prunable_kernels(stripped)]
    _, norm_channels = structure.settle(stripped, masks)
    assert norm_channels, "FT at 70% leaves dead channels"
    images = dataset.test_images[:64].astype(np.float32)
    for name, keep in norm_channels.items():
        norm = stripped.get_layer(name)
        for weight in norm.trainable_weights:
            assert np.all(weight.numpy()[~keep] == 0), (name, weight.name)
            assert np.any(weight.numpy()[keep] != 0)
        probe = tf.keras.Model(fresh.inputs, fresh.get_layer(name).output)
        assert np.all(probe(images, training=False).numpy()[..., ~keep] == 0)
    achieved = 1 - cascade.nonzero_params(stripped) / total
    assert abs(achieved - ratio) / ratio <= 0.02, achieved
