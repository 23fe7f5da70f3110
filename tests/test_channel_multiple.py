"""prune.channel_multiple k: the structured methods keep a multiple of k filters per layer
(whole SIMD tiles once shrunk), still meet the budget, are the study's methods at k = 1,
and a k below 1 is refused in one line."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from export import shrink
from tfprune import bench, cascade, methods, models, structure, wrappers
from tfprune import config as config_lib
from tfprune import errors

L = tf.keras.layers
K = 8
RATIO = 0.7


@pytest.fixture(scope="module")
def resnet20():
    return models.build("resnet20", (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3, seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def aligned(resnet20, images):
    """{method: its masks at k = K for RATIO}."""
    keep = cascade.keep_budget(resnet20, RATIO, models.count_params(resnet20))
    return {name: methods.get(name).bind(dict(channel_multiple=K))(resnet20, keep, images).masks
            for name in methods.structured_names()}


def _inner_convs(model):
    """Conv2D layers whose output reaches only other Conv2D/Dense layers (through BatchNorm
    and ReLU), never a residual Add: the first conv of each block, whose width no union
    of residual channels decides."""
    consumers = {}
    for entry in model.get_config()["layers"]:
        for node in entry["inbound_nodes"]:
            for inbound in node:
                consumers.setdefault(inbound[0], []).append(model.get_layer(entry["name"]))

    def reaches_add(layer):
        return any(isinstance(c, L.Add) or (not isinstance(c, (L.Conv2D, L.Dense))
                                            and reaches_add(c))
                   for c in consumers.get(layer.name, []))

    return [layer.name for layer in model.layers
            if isinstance(layer, L.Conv2D) and not reaches_add(layer)]


def _live_filters(mask):
    return mask.reshape(-1, mask.shape[-1]).any(axis=0)


def _prune_ratio(model, masks):
    """Of all parameters, after dead weights and dead channels' BatchNorms are removed."""
    settled, norm_channels = structure.settle(model, masks)
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    removed = sum(k.size - int(np.count_nonzero(k * m)) for k, m in zip(kernels, settled))
    removed += structure.dead_norm_params(model, norm_channels)
    return removed / models.count_params(model)


@pytest.mark.parametrize("method", methods.structured_names())
def test_inner_convs_keep_a_multiple_of_k_filters(resnet20, aligned, method):
    settled, _ = structure.settle(resnet20, aligned[method])
    live = {layer.name: int(_live_filters(mask).sum())
            for layer, mask in zip(wrappers.prunable_layers(resnet20), settled)}
    inner = _inner_convs(resnet20)
    assert len(inner) == 9  # one per basic block
    assert all(live[name] % K == 0 and live[name] > 0 for name in inner), live
    assert any(live[name] < resnet20.get_layer(name).filters for name in inner), live


def test_ft_rounds_up_with_each_layers_next_filters_by_l1(resnet20, aligned):
    """Every FT layer (the classifier whole) keeps its top-n filters by L1 norm, n a
    multiple of K or the layer's width."""
    layers = wrappers.prunable_layers(resnet20)
    for layer, mask in zip(layers, aligned["ft"]):
        kept = _live_filters(mask)
        norms = np.abs(layer.kernel.numpy()).reshape(-1, kept.size).sum(axis=0)
        assert kept.sum() % K == 0 or kept.sum() == kept.size, layer.name
        assert set(np.flatnonzero(kept)) == set(np.argsort(-norms)[:kept.sum()]), layer.name
    assert _live_filters(aligned["ft"][-1]).all()


def test_pfp_keeps_a_multiple_of_k_input_channels(resnet20, aligned):
    counts = []
    for mask in aligned["pfp"]:
        inputs = mask.reshape(-1, *mask.shape[-2:]).any(axis=(0, 2))
        assert inputs.sum() % K == 0 or inputs.all()
        counts.append((int(inputs.sum()), inputs.size))
    assert any(kept < width for kept, width in counts), counts


@pytest.mark.parametrize("method", methods.structured_names())
def test_budget_is_met_to_within_one_tile(resnet20, aligned, method):
    """The search stops at the smallest knob keeping the budget, so it prunes at most
    RATIO and misses it by at most one step: K filters of one layer and the next
    layer's weights reading them (ResNet20: K x 2 x 3 x 3 x 64 weights, 3.4%)."""
    kernels = wrappers.prunable_kernels(resnet20)
    fan_in = max(int(np.prod(k.shape[:-1])) for k in kernels)
    tile = K * 2 * fan_in / models.count_params(resnet20)
    achieved = _prune_ratio(resnet20, aligned[method])
    assert RATIO - tile <= achieved <= RATIO + 1e-3, (achieved, tile)


def test_shrunk_ft_network_has_inner_convs_of_whole_tiles(resnet20):
    shrunk = shrink.shrink(bench.ft_pruned(resnet20, RATIO, K))
    widths = {name: shrunk.get_layer(name).filters for name in _inner_convs(resnet20)}
    assert all(width % K == 0 for width in widths.values()), widths
    assert sum(widths.values()) < sum(resnet20.get_layer(n).filters for n in widths), widths


@pytest.mark.parametrize("method", methods.structured_names())
def test_default_k_is_the_study_method(resnet20, images, aligned, method):
    """The config's default k gives the masks of the method called without k; they
    differ from the aligned ones. Unstructured methods ignore k."""
    keep = cascade.keep_budget(resnet20, RATIO, models.count_params(resnet20))
    default = config_lib.base().prune.channel_multiple
    study = methods.get(method).bind()(resnet20, keep, images).masks
    chosen = methods.get(method).bind(dict(channel_multiple=default))(resnet20, keep,
                                                                       images).masks
    assert all(np.array_equal(a, b) for a, b in zip(study, chosen))
    assert not all(np.array_equal(a, b) for a, b in zip(study, aligned[method]))
    assert methods.get("wt").knobs == ()


@pytest.mark.parametrize("value", [0, -1])
def test_a_multiple_below_one_is_refused_in_one_line(value):
    config = config_lib.base()
    config.prune.channel_multiple = value
    with pytest.raises(errors.ConfigError) as error:
        config_lib.validate(config)
    assert str(error.value) == (f"config.prune.channel_multiple: {value} is out of range; "
                                "allowed: [1, inf]")
