"""The four methods against their definitions: hand-computed sensitivities, budgets met,
structured masks whole, determinism, and every method through the TF-MOT wrapper."""
import functools
import itertools

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from tfprune import cascade, config as config_lib, methods, models, sensitivity, structure, train
from tfprune import wrappers

L = tf.keras.layers


def _reference_g(weights, activations):
    """g[x, p, k, i] by the definition, with explicit loops (weights (K, I), acts (X, P, K))."""
    X, P, K = activations.shape
    I = weights.shape[1]
    g = np.zeros((X, P, K, I))
    for x, p, k, i in itertools.product(range(X), range(P), range(K), range(I)):
        best = 0.0
        for part in (np.maximum(activations[x, p], 0), np.maximum(-activations[x, p], 0)):
            same_sign = np.sign(weights[:, i]) == np.sign(weights[k, i])
            z = np.sum(np.abs(weights[same_sign, i]) * part[same_sign])
            if weights[k, i] != 0 and z > sensitivity.EPS:
                best = max(best, abs(weights[k, i]) * part[k] / z)
        g[x, p, k, i] = best
    return g


def _patches_by_hand(images, size=3):
    """'same' 3x3 stride-1 patches in (row, column, channel) order: (X, P, 9 * C)."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = images.shape[1:3]
    return np.stack([np.stack([padded[x, r:r + size, c:c + size, :].ravel()
                               for r in range(h) for c in range(w)])
                     for x in range(len(images))])


def test_sipp_scores_of_a_dense_layer_match_the_definition():
    rng = np.random.default_rng(0)
    layer = L.Dense(3)
    layer.build((None, 4))
    kernel = rng.normal(size=(4, 3)).astype(np.float32)
    activations = rng.normal(size=(5, 4)).astype(np.float32)  # signed: the first layer
    expected = _reference_g(kernel, activations[:, None, :]).mean(axis=1).max(axis=0)
    np.testing.assert_allclose(sensitivity.sipp_scores(layer, kernel, activations), expected,
                               rtol=1e-5)


def test_sipp_and_pfp_scores_of_a_conv_layer_match_the_definition():
    rng = np.random.default_rng(1)
    layer = L.Conv2D(3, 3, padding="same")
    layer.build((None, 4, 4, 2))
    kernel = rng.normal(size=(3, 3, 2, 3)).astype(np.float32)
    activations = np.maximum(rng.normal(size=(2, 4, 4, 2)), 0).astype(np.float32)
    g = _reference_g(kernel.reshape(-1, 3), _patches_by_hand(activations))
    np.testing.assert_allclose(sensitivity.sipp_scores(layer, kernel, activations),
                               g.mean(axis=1).max(axis=0).reshape(kernel.shape), rtol=1e-5)
    channel = g.max(axis=(0, 1, 3)).reshape(9, 2).max(axis=0)  # over x, p, filters, positions
    np.testing.assert_allclose(sensitivity.pfp_channel_scores(layer, kernel, activations),
                               channel, rtol=1e-5)


def test_scoring_batch_size_follows_the_bound_and_the_cap():
    inputs = tf.keras.Input((4,))
    model = tf.keras.Model(inputs, L.Dense(2)(L.Dense(8)(inputs)))
    # eta = 8 + 2, eta* = 8: ceil(3 ln(8 * 8 * 10 / 1e-16)) = ceil(129.6) = 130
    assert sensitivity.scoring_size(model, 1e-16, 10000) == 130
    assert sensitivity.scoring_size(model, 1e-16, 100) == 50


def _parameters_after(model, masks):
    """Prune ratio of the masked network, BatchNorm parameters of dead channels removed."""
    total = models.count_params(model)
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    kept = sum(int(np.count_nonzero(k * m)) for k, m in zip(kernels, masks))
    dead_norms = structure.dead_norm_params(model, structure.settle(model, masks)[1])
    return 1 - (kept + total - sum(k.size for k in kernels) - dead_norms) / total


@pytest.fixture(scope="module")
def registry():
    """name -> that registry model, built on first use (the cases need six of ten)."""
    @functools.cache
    def build(name):
        return models.build(name, (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3, seed=0)
    return build


@pytest.mark.parametrize("method", methods.assigned_names())
@pytest.mark.parametrize("name", ["cnn_small", "resnet20", "resnet56", "densenet22",
                                  "wrn16_8", "vgg16_bn"])
def test_target_ratio_is_met_on_every_registry_model(registry, method, name):
    if method in ("sipp", "pfp") and name in ("wrn16_8", "vgg16_bn", "resnet56"):
        pytest.skip("data-informed scoring of the large models belongs in benchmarks")
    model = registry(name)
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    # Untrained, with the reference's init (PyTorch's Linear: U(+-1/sqrt(fan_in))), the
    # classifiers of resnet56 and densenet22 hold the smallest weights: beyond about 55%
    # WT's global threshold removes them whole and nothing stays alive (layer collapse).
    ratio = 0.5 if name in ("resnet56", "densenet22") else 0.8
    masks = methods.get(method).bind()(model, cascade.keep_budget(
        model, ratio, models.count_params(model)), images).masks
    achieved = _parameters_after(model, masks)
    if method in methods.structured_names() and name == "cnn_small":
        # 24k parameters in 112 filters: one filter is more than 0.5% of the target.
        assert abs(achieved - ratio) / ratio <= 0.02, achieved
    else:
        assert abs(achieved - ratio) / ratio <= 0.005, achieved


@pytest.mark.parametrize("method", methods.structured_names())
def test_structured_masks_are_whole_filters_and_channels(registry, method):
    model = registry("resnet20")
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    masks = methods.get(method).bind()(model, cascade.keep_budget(
        model, 0.7, models.count_params(model)), images).masks
    for mask in masks:
        if mask.ndim == 4:
            assert np.all(mask.min(axis=(0, 1)) == mask.max(axis=(0, 1)))
        grid = mask.reshape(-1, *mask.shape[-2:]).max(axis=0)  # (inputs, outputs)
        np.testing.assert_array_equal(grid, np.outer(grid.any(1), grid.any(0)))


def _trained_digits_model():
    from tfprune import data

    config = config_lib.base()
    config.train.update(epochs=2, batch_size=64)
    dataset = data.load(config.data, 0)
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std, seed=0)
    train.fit(model, dataset, config, 2)
    return model, dataset, config


@pytest.fixture(scope="module")
def digits():
    return _trained_digits_model()


def test_sipp_differs_from_wt_on_real_data_and_all_methods_are_deterministic(digits):
    model, dataset, _ = digits
    images = dataset.val_images.astype(np.float32)
    keep = cascade.keep_budget(model, 0.7, models.count_params(model))
    chosen = {}
    for name in methods.assigned_names():
        declared = methods.get(name)
        first = declared.bind()(model, keep, images).masks
        again = declared.bind()(model, keep, images).masks
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)
        chosen[name] = np.concatenate([m.ravel() for m in first])
    overlap = np.sum(chosen["wt"] * chosen["sipp"]) / np.sum(chosen["wt"])
    assert overlap < 0.95, overlap


@pytest.mark.parametrize("method", methods.assigned_names())
def test_every_method_runs_through_tfmot_and_survives_strip_pruning(digits, method, tmp_path):
    model, dataset, config = digits
    model = tf.keras.models.clone_model(model)
    model.set_weights(digits[0].get_weights())
    total = models.count_params(model)
    keep = cascade.keep_budget(model, 0.6, total)
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.6))
    prune = cascade.PruneToRatio(methods.get(method).bind(), [keep],
                                 dataset.val_images.astype(np.float32))
    train.fit(wrapped, dataset, config, 1, callbacks=[
        prune, tfmot.sparsity.keras.UpdatePruningStep(),
        tfmot.sparsity.keras.PruningSummaries(log_dir=str(tmp_path))])
    reported = [layer.pruning_vars[0][1].numpy() for layer in wrappers.wrappers_of(wrapped)]
    stripped = wrappers.strip(wrapped)
    for kernel, mask in zip(wrappers.prunable_kernels(stripped), reported):
        assert np.all(kernel.numpy()[mask == 0] == 0)
        assert np.count_nonzero(kernel.numpy()) <= mask.sum()
    achieved = 1 - cascade.nonzero_params(stripped) / total
    # PFP's one epsilon moves several layers' channel counts at once: on this 24k-parameter
    # CNN one step of it is up to 3% of the budget (an input channel of the last conv: 1.2%).
    tolerance = 0.03 if method in methods.structured_names() else 0.005
    assert abs(achieved - 0.6) / 0.6 <= tolerance, achieved
