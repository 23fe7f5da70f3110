"""prune.dead_weights=zero_gradient, the reference's rule: what gets no gradient on the
scoring batch S is removed (every entry for unstructured methods; whole filters, and
input channels identical on all of S, for structured ones), BatchNorm of a pruned filter
stays and counts as kept, and the kept count is the non-zero count of all trainable
weights. The graph rule (the default) is checked on the same networks for contrast."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import cascade, methods, models, structure, wrappers

L = tf.keras.layers


def _chain():
    """conv a - BN - ReLU - conv b - BN - ReLU - pool - dense, BN shifts positive so no
    ReLU is dead on all of S by chance."""
    inputs = tf.keras.Input((8, 8, 3))
    x = inputs
    for name in ("a", "b"):
        x = L.Conv2D(4, 3, padding="same", use_bias=False, name=name)(x)
        x = L.ReLU()(L.BatchNormalization(name=f"{name}_bn")(x))
    model = tf.keras.Model(inputs, L.Dense(3, name="fc")(L.GlobalAveragePooling2D()(x)))
    rng = np.random.default_rng(0)
    for name in ("a_bn", "b_bn"):
        norm = model.get_layer(name)
        norm.gamma.assign(rng.uniform(0.5, 1.5, 4))
        norm.beta.assign(rng.uniform(0.5, 1.5, 4))
    model.get_layer("fc").bias.assign(rng.normal(0, 1, 3))  # zeros would count as removed
    return model


def _data(blank_channel=None):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (12, 8, 8, 3)).astype(np.float32)
    if blank_channel is not None:
        images[..., blank_channel] = 0
    return images, rng.integers(0, 3, 12)


def _ones(model):
    return [np.ones(k.shape, np.float32) for k in wrappers.prunable_kernels(model)]


def test_a_weight_whose_input_is_zero_on_all_of_s_is_removed():
    model = _chain()
    images, labels = _data(blank_channel=2)
    settled = structure.ZeroGradientRule(model, images, labels, structured=False).settle(
        _ones(model))
    first = settled.masks[0]
    assert np.all(first[:, :, 2, :] == 0) and np.all(first[:, :, :2, :] == 1)
    graph = structure.GraphRule(model).settle(_ones(model))
    assert all(np.all(m == 1) for m in graph.masks)  # the graph sees a live image channel


def test_a_pruned_filters_batchnorm_stays_and_its_constant_channel_is_zeroed():
    model = _chain()
    images, labels = _data()
    masks = _ones(model)
    masks[0][..., 1] = 0  # filter 1 of a: BN a then emits a constant on channel 1
    settled = structure.ZeroGradientRule(model, images, labels, structured=True).settle(masks)
    a, b, fc = settled.masks
    np.testing.assert_array_equal(a, masks[0])
    assert np.all(b[:, :, 1, :] == 0) and np.all(b[:, :, [0, 2, 3], :] == 1)
    assert np.all(fc == 1)
    assert (settled.removed, settled.others, settled.held) == (0, (), False)
    graph = structure.GraphRule(model).settle(masks)
    np.testing.assert_array_equal(graph.masks[1], b)
    assert graph.removed == 2 and graph.held  # tfprune's rule: scale and shift removed
    assert {w.name for w, _ in graph.others} == {"a_bn/gamma:0", "a_bn/beta:0"}


def test_the_count_is_the_non_zero_count_of_all_trainable_weights():
    """Unstructured: a channel nobody reads gets no gradient, so its filter and its
    BatchNorm scale and shift are zeroed (as the reference's WeightNet does), and what
    the rule counts as kept is what the network then holds."""
    model = _chain()
    images, labels = _data()
    masks = _ones(model)
    masks[1][:, :, 0, :] = 0  # no filter of b reads channel 0 of a
    settled = structure.ZeroGradientRule(model, images, labels, structured=False).settle(masks)
    assert np.all(settled.masks[0][..., 0] == 0) and np.all(settled.masks[0][..., 1:] == 1)
    zeroed = {w.name: keep for w, keep in settled.others}
    assert set(zeroed) == {"a_bn/gamma:0", "a_bn/beta:0"}
    assert all(np.array_equal(keep, [0, 1, 1, 1]) for keep in zeroed.values())
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    kept = sum(int(np.count_nonzero(k * m)) for k, m in zip(kernels, settled.masks))
    others = models.count_params(model) - wrappers.prunable_count(model)
    methods.budget.apply(model, settled)
    assert cascade.nonzero_params(model) == kept + others - settled.removed
    assert settled.removed == 2


def test_ft_under_the_rule_keeps_batchnorm_and_holds_nothing_but_kernels():
    """Through the cascade's callback on a TF-MOT-wrapped network: the budget is met by
    the non-zero count of all trainable weights, BatchNorm is untouched."""
    model = _chain()
    images, labels = _data()
    norms = {w.name: w.numpy() for w in model.trainable_weights if "_bn/" in w.name}
    total = models.count_params(model)
    keep = cascade.keep_budget(model, 0.5, total)
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.5))
    prune = cascade.PruneToRatio(methods.get("ft").bind(dict(dead_weights="zero_gradient")),
                                 [keep], images, labels)
    prune.set_model(wrapped)
    prune.on_train_begin()
    assert prune._held == []
    for weight in wrapped.trainable_weights:
        if weight.name in norms:
            np.testing.assert_array_equal(weight.numpy(), norms[weight.name])
    kept = cascade.nonzero_params(wrapped)
    assert kept >= round(0.5 * total) and any(
        np.all(k.numpy()[..., f] == 0) for k in wrappers.prunable_kernels(wrapped)[:2]
        for f in range(4))


def test_the_rule_needs_the_scoring_labels():
    model = _chain()
    images, _ = _data()
    with pytest.raises(ValueError, match="labels"):
        methods.get("wt").bind(dict(dead_weights="zero_gradient"))(model, 10, images)
