"""Architectures people deploy (tf.keras.applications, weights=None): the methods prune
them to the budget through depthwise convolutions, squeeze-and-excitation, hard-swish,
Rescaling/Normalization, padding and reshapes, and a structured-pruned one shrinks to
the same outputs in Keras and in float32 TFLite with fewer parameters and MACs.

Small inputs and five classes keep it fast. MobileNetV2 takes all four methods; the SE
networks the two structured ones, whose shrinking exercises the gates. ResNet50 (plain
convs, BN, padding and adds, 23M weights: minutes per data-informed method) is left to
the measurement in docs/methods.md."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from export import litert, shrink, variants
from tfprune import cascade, flops, methods, models, structure, wrappers
from tfprune.methods import budget

SIZE, CLASSES, RATIO = 32, 5, 0.5
CASES = [("mobilenet_v2", method) for method in ("wt", "sipp", "ft", "pfp")] + [
    (name, method) for name in ("mobilenet_v3_small", "efficientnet_b0")
    for method in ("ft", "pfp")]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, (8, SIZE, SIZE, 3)).astype(np.float32)


def _as_trained(model, images):
    """BatchNorm moving statistics from `images` and random shifts, as training leaves
    them: untrained, keras.applications' inference-mode activations fade below float32's
    epsilon within a few blocks, where SiPP and PFP score every weight zero."""
    rng = np.random.default_rng(1)
    norms = [layer for layer in model.layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.beta.assign(rng.normal(0.0, 0.3, layer.beta.shape))
        layer.momentum = 0.0  # one training-mode pass sets the moving statistics
    model(images, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum
    return model


@pytest.fixture(scope="module")
def pruned(images):
    """(network, method) -> (the network with the method's masks applied, its masks)."""
    cache = {}

    def get(name, method):
        if (name, method) not in cache:
            model = _as_trained(models.build(name, (SIZE, SIZE, 3), CLASSES,
                                             (120.0,) * 3, (60.0,) * 3), images)
            keep = cascade.keep_budget(model, RATIO, models.count_params(model))
            result = methods.get(method).bind()(model, keep, images)
            parent = models.count_params(model)
            budget.apply(model, result)
            cache[name, method] = model, result.masks, parent
        return cache[name, method]

    return get


def _prune_ratio(model, masks, parent):
    """Fraction of the parent's parameters gone: kernels by their masks, and the weights
    of dead channels the graph rule removes (BatchNorm, depthwise kernels)."""
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    others = parent - sum(k.size for k in kernels)
    dead = structure.dead_norm_params(model, structure.settle(model, masks)[1])
    kept = sum(int(np.count_nonzero(k * m)) for k, m in zip(kernels, masks)) + others - dead
    return 1 - kept / parent


@pytest.mark.parametrize("name,method", CASES)
def test_method_reaches_the_budget(pruned, name, method):
    model, masks, parent = pruned(name, method)
    assert abs(_prune_ratio(model, masks, parent) - RATIO) / RATIO <= 0.005


@pytest.mark.parametrize("name,method", [case for case in CASES if case[1] in ("ft", "pfp")])
def test_structured_pruned_network_shrinks_to_the_same_outputs(pruned, images, name, method):
    model = pruned(name, method)[0]
    shrunk = shrink.shrink(model)
    logits = model(images, training=False).numpy()
    assert np.abs(logits).max() > 1e-2  # outputs that can tell a wrong function
    # float32 round-off: EfficientNet's logits reach ~50 here
    np.testing.assert_allclose(shrunk(images, training=False).numpy(), logits,
                               rtol=1e-4, atol=1e-4)
    assert models.count_params(shrunk) < 0.75 * models.count_params(model)
    assert flops.macs(shrunk) < 0.9 * flops.macs(model)
    assert cascade.nonzero_params(shrunk) <= cascade.nonzero_params(model)


@pytest.mark.parametrize("method", ["ft", "pfp"])
def test_shrunk_mobilenet_v2_runs_in_tflite_with_the_masked_outputs(pruned, images, method):
    model = pruned("mobilenet_v2", method)[0]
    shrunk = shrink.shrink(model)
    interpreter = litert.TFLiteModel(variants.convert(shrunk), threads=1, batch_size=4)
    # relative too: the masked network's own conversion differs from Keras by up to
    # 1.7e-4 on PFP's logits of ~4 (BatchNorm folding, XNNPACK's order of sums)
    np.testing.assert_allclose(interpreter.predict_logits(images),
                               model(images, training=False).numpy(), rtol=1e-4, atol=1e-4)


def test_macs_count_depthwise_convolutions():
    inputs = tf.keras.Input((8, 8, 4))
    outputs = tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="same",
                                              depth_multiplier=2)(inputs)
    # 4 x 4 output positions, 4 * 2 output channels, 3 * 3 weights each
    assert flops.macs(tf.keras.Model(inputs, outputs)) == 4 * 4 * 8 * 9


def test_application_batch_norm_statistics_move_at_the_study_momentum():
    """One training call moves a zero moving mean to 0.1 of its batch's mean (momentum
    0.9): the applications' own 0.999 could not follow a few thousand steps."""
    model = models.build("mobilenet_v2", (32, 32, 3))
    first = next(layer for layer in model.layers
                 if isinstance(layer, tf.keras.layers.BatchNormalization))
    images = tf.random.stateless_uniform((8, 32, 32, 3), (1, 2), 0, 255)
    batch_mean = tf.reduce_mean(tf.keras.Model(model.input, first.input)(images), (0, 1, 2))
    model(images, training=True)
    np.testing.assert_allclose(first.moving_mean.numpy(), 0.1 * batch_mean.numpy(),
                               rtol=1e-4, atol=1e-6)
