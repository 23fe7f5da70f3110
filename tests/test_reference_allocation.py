"""Allocation details as the reference (torchprune) has them: PFP may prune the image
channels, FT keeps a fraction of each layer's currently non-zero filters, and a
sensitivity denominator at or below float32 epsilon counts as infinite."""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import cascade, methods, models, sensitivity, structure, wrappers

L = tf.keras.layers


def _convs(filters=8, layers=2):
    inputs = tf.keras.Input((8, 8, 3))
    x = inputs
    for _ in range(layers):
        x = L.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    return tf.keras.Model(inputs, L.Dense(10)(L.GlobalAveragePooling2D()(x)))


def _live_filters(kernel, mask):
    return (kernel * mask).reshape(-1, kernel.shape[-1]).any(axis=0)


def test_pfp_prunes_an_image_channel_that_carries_nothing():
    """The blue channel is zero on every scoring image: its sensitivity is zero, and
    PFP's first layer drops it as any other layer drops a useless channel."""
    tf.keras.utils.set_random_seed(0)
    model = _convs()
    images = np.random.default_rng(0).uniform(0, 1, (16, 8, 8, 3)).astype(np.float32)
    images[..., 2] = 0
    keep = cascade.keep_budget(model, 0.3, models.count_params(model))
    first = methods.get("pfp").bind()(model, keep, images).masks[0]
    assert np.all(first[:, :, 2, :] == 0)
    assert np.all(first[:, :, :2, :].any(axis=(0, 1, 3)))


def test_ft_keeps_a_fraction_of_each_layers_non_zero_filters():
    """Half of the first layer's filters are pruned already (a later cascade cycle): FT
    keeps the same fraction of the remaining filters of every layer, to within one."""
    tf.keras.utils.set_random_seed(0)
    model = _convs(layers=3)
    first = wrappers.prunable_kernels(model)[0]
    first.assign(first * np.repeat([0.0, 1.0], 4).astype(np.float32))
    masks, _ = structure.settle(model, [np.ones(k.shape, np.float32)
                                        for k in wrappers.prunable_kernels(model)])
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    before = [int(_live_filters(k, m).sum()) for k, m in zip(kernels, masks)][:3]
    assert before == [4, 8, 8]
    keep = cascade.keep_budget(model, 0.7, models.count_params(model))
    pruned = methods.get("ft").bind()(model, keep).masks
    fractions = [_live_filters(k, m).sum() / n for k, m, n in zip(kernels, pruned, before)]
    assert fractions[0] < 1, fractions  # the pruned layer is pruned further
    assert max(fractions) - min(fractions) <= 1 / min(before), fractions


def test_a_denominator_at_or_below_float32_epsilon_counts_as_infinite():
    """z = 3e-8 (below 1.19e-7): g = 0, where a 1e-12 threshold gave 1/3 and 2/3; the
    same network scaled up (z = 3e-4) scores 1/3 and 2/3."""
    layer = L.Dense(1)
    layer.build((None, 2))
    for scale, expected in ((1e-4, [0.0, 0.0]), (1e-2, [1 / 3, 2 / 3])):
        kernel = np.array([[1.0], [2.0]], np.float32) * scale
        activations = np.full((1, 2), scale, np.float32)
        np.testing.assert_allclose(sensitivity.sipp_scores(layer, kernel, activations)[:, 0],
                                   expected, rtol=1e-5)
        np.testing.assert_allclose(sensitivity.pfp_channel_scores(layer, kernel, activations),
                                   expected, rtol=1e-5)
