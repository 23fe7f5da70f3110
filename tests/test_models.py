"""Tests for tfprune.models: shapes, parameter counts, shortcuts, seeding, saving, pruning,
TFLite."""
import tfprune  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from tfprune import models

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_optimization as tfmot

L = tf.keras.layers

# Trainable parameters (kernels, biases, BN gamma/beta) for 10 classes, exactly. The
# torchprune counts were obtained by instantiating the reference's classes (lucaslie/
# torchprune at 14b392c, src/torchprune/torchprune/util/external/cnn/models/cifar/, from
# bearpaw/pytorch-classification) with torch 2.13 and num_classes=10, summing p.numel()
# over parameters(). Their weights loaded into resnet20/56/110, densenet22 and vgg16_bn
# (conv biases zeroed) give the reference's logits to float32 round-off; wrn16_8 differs
# (8%), as its strided 3x3 convs pad "same" (see tfprune.models._torch_conv).
PARAMS = {
    # Defined by this repo: the quickstart CNN is specified as ~20-30k parameters.
    "cnn_small": 24_346,
    # torchprune vgg16_bn: 14,728,266, of which 4,224 are the conv biases in front of BN
    # that tfprune drops (BN absorbs them).
    "vgg16_bn": 14_728_266 - 4_224,
    # torchprune resnet.py: 1x1-conv + BN shortcuts where the shape changes; bottleneck
    # blocks from depth 44 on.
    "resnet20": 272_474,
    "resnet56": 869_530,
    "resnet110": 1_704_154,
    # He et al. 2016, Table 6 (0.27M / 0.85M / 1.7M, option A); exact values as
    # reported by akamaster/pytorch_resnet_cifar10 for the same architecture.
    "resnet20_option_a": 269_722,
    "resnet56_option_a": 853_018,
    "resnet110_option_a": 1_727_962,
    # torchprune wrn.py WRN-16-8 without dropout (Zagoruyko & Komodakis 2016: 11.0M).
    "wrn16_8": 10_961_370,
    # torchprune densenet.py densenet22: DenseNet-BC, depth 22, k=12, compression 0.5.
    "densenet22": 71_686,
}
# Projection shortcuts (stride, filters) of the reference ResNets, in graph order: where
# a stage starts with stride 2, and at resnet56/110's first block, which widens 16 to 64.
PROJECTIONS = {
    "resnet20": [(2, 32), (2, 64)],
    "resnet56": [(1, 64), (2, 128), (2, 256)],
    "resnet110": [(1, 64), (2, 128), (2, 256)],
}
OPTION_A = ["resnet20_option_a", "resnet56_option_a", "resnet110_option_a"]

NUM_CLASSES = 10


@pytest.fixture(scope="module")
def build_once():
    """Build each model once per module: the large ones take seconds to build."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = models.build(name, num_classes=NUM_CLASSES)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")


def test_registry_has_the_reference_models():
    assert set(models.MODELS) == set(PARAMS)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_output_shape(build_once, batch, name):
    assert build_once(name)(batch, training=False).shape == (2, NUM_CLASSES)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_param_count_matches_reference(build_once, name):
    assert models.count_params(build_once(name)) == PARAMS[name]


def _graph(model):
    """({layer name: inbound layer names}, {layer name: layer}) of a functional model."""
    config = model.get_config()["layers"]
    inbound = {entry["name"]: [item[0] for node in entry["inbound_nodes"] for item in node]
               for entry in config}
    return inbound, {entry["name"]: model.get_layer(entry["name"]) for entry in config}


def _distances(inbound, name):
    """{each ancestor of layer `name`, and itself: the fewest layers back to it}."""
    distance, queue = {name: 0}, [name]
    while queue:
        current = queue.pop(0)
        for source in inbound[current]:
            if source not in distance:
                distance[source] = distance[current] + 1
                queue.append(source)
    return distance


def _shortcuts(model):
    """Per residual Add, in graph order: the layers of its shorter addend from the block's
    input (the addends' nearest common ancestor) on; [] where that addend is the input."""
    inbound, layer = _graph(model)
    result = []
    for name in (n for n in inbound if isinstance(layer[n], L.Add)):
        addends = inbound[name]
        reach = [_distances(inbound, addend) for addend in addends]
        start = min(set(reach[0]) & set(reach[1]), key=lambda n: reach[0][n] + reach[1][n])
        path, current = [], addends[min((0, 1), key=lambda i: reach[i][start])]
        while current != start:
            path.insert(0, layer[current])
            (current,) = inbound[current]
        result.append(path)
    return result


@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_reference_resnets_project_each_shape_change_by_1x1_conv_and_bn(build_once, name):
    model = build_once(name)
    depth = int(name.removeprefix("resnet"))
    shortcuts = _shortcuts(model)
    assert len(shortcuts) == 3 * ((depth - 2) // 6)  # one Add per block
    projections = [path for path in shortcuts if path]
    assert [[type(l) for l in path] for path in projections] == [
        [L.Conv2D, L.BatchNormalization]] * len(PROJECTIONS[name])
    assert [(conv.kernel_size, conv.strides[0], conv.filters) for conv, _ in projections] == [
        ((1, 1), stride, filters) for stride, filters in PROJECTIONS[name]]
    assert all(conv.input.shape != norm.output.shape for conv, norm in projections)
    convs = [l for l in model.layers if isinstance(l, L.Conv2D)]
    assert not any(conv.use_bias for conv in convs)  # as PyTorch's bias=False
    # bearpaw's Bottleneck from depth 44 on: 3 convs per block, 4x expansion to 256.
    per_block = 3 if depth >= 44 else 2
    assert len(convs) == 1 + per_block * len(shortcuts) + len(projections)
    assert model.layers[-1].kernel.shape == (256 if depth >= 44 else 64, NUM_CLASSES)


@pytest.mark.parametrize("name", OPTION_A)
def test_option_a_resnets_have_weightless_zero_padded_shortcuts(build_once, name):
    padded = [[type(l) for l in path] for path in _shortcuts(build_once(name)) if path]
    assert padded == [[L.AveragePooling2D, L.Permute, L.ZeroPadding2D, L.Permute]] * 2


def test_strided_convs_centre_on_the_pixels_their_shortcut_samples():
    """As PyTorch's padding=1: output (i, j) of a block's stride-2 3x3 conv centres on
    input (2i, 2j), the pixel its 1x1 stride-2 shortcut reads; Keras' "same" padding
    would centre it on (2i+1, 2j+1). With identity centre taps both give the same map."""
    model = models.build("resnet20", num_classes=NUM_CLASSES)
    inbound, layer = _graph(model)
    rng = np.random.default_rng(0)
    for shortcut, _ in filter(None, _shortcuts(model)):
        (conv,) = [l for l in model.layers if isinstance(l, L.Conv2D)
                   and l.kernel_size == (3, 3) and l.strides == (2, 2)
                   and l.filters == shortcut.filters]
        (pad,) = inbound[conv.name]
        assert inbound[pad] == inbound[shortcut.name]  # both read the block's input
        block_input = rng.normal(size=(1, *shortcut.input.shape[1:])).astype("float32")
        identity = np.eye(block_input.shape[-1], shortcut.filters, dtype="float32")
        centre = np.zeros(conv.kernel.shape, "float32")
        centre[1, 1] = identity
        conv.set_weights([centre])
        shortcut.set_weights([identity[None, None]])
        sampled = shortcut(block_input).numpy()
        np.testing.assert_array_equal(conv(layer[pad](block_input)), sampled)
        np.testing.assert_array_equal(sampled[..., :identity.shape[0]], block_input[:, ::2, ::2])


@pytest.mark.parametrize("name", list(models.MODELS))
def test_same_seed_gives_same_weights(build_once, name):
    again = models.build(name, num_classes=NUM_CLASSES)
    for a, b in zip(build_once(name).get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_seed_gives_other_weights(build_once):
    other = models.build("cnn_small", num_classes=NUM_CLASSES, seed=1)
    assert not np.array_equal(build_once("cnn_small").get_weights()[0], other.get_weights()[0])


def test_unknown_name_lists_allowed_names():
    with pytest.raises(ValueError) as err:
        models.build("resnet21")
    assert all(name in str(err.value) for name in models.MODELS)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_keras_save_round_trip(build_once, batch, tmp_path, name):
    model = build_once(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(model(batch, training=False), loaded(batch, training=False))


PRUNABLE = (L.Conv2D, L.Dense)


def _prune_conv_and_dense(layer):
    if isinstance(layer, PRUNABLE):
        return tfmot.sparsity.keras.prune_low_magnitude(layer)
    return layer


@pytest.mark.parametrize("name", list(models.MODELS))
def test_prune_low_magnitude_and_strip(build_once, batch, name):
    model = build_once(name)
    pruned = tf.keras.models.clone_model(model, clone_function=_prune_conv_and_dense)
    # TF-MOT's PruneLowMagnitude wrapper class is private; it is a Keras Wrapper.
    wrapped = [l for l in pruned.layers if isinstance(l, L.Wrapper)]
    prunable = [l for l in model.layers if isinstance(l, PRUNABLE)]
    assert len(wrapped) == len(prunable) > 0
    # Masks start at one and are non-trainable: same outputs, same parameter count.
    np.testing.assert_allclose(pruned(batch, training=False), model(batch, training=False),
                               rtol=1e-5, atol=1e-5)
    assert models.count_params(pruned) == models.count_params(model)

    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    assert [type(l) for l in stripped.layers] == [type(l) for l in model.layers]
    assert [w.shape for w in stripped.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("name", ["resnet20", "resnet20_option_a", "densenet22"])
def test_tflite_conversion(build_once, name):
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(build_once(name)).convert()
    assert flatbuffer[4:8] == b"TFL3"  # the TFLite flatbuffer file identifier


@pytest.mark.parametrize("name", ["resnet20", "resnet56", "wrn16_8"])
def test_every_strided_3x3_conv_pads_both_sides_as_pytorch(build_once, name):
    """wrn16_8's first conv of stages 2 and 3 sits beside a 1x1 stride-2 projection too."""
    model = build_once(name)
    strided = [l for l in model.layers if isinstance(l, L.Conv2D) and l.strides == (2, 2)
               and l.kernel_size == (3, 3)]
    assert strided
    for conv in strided:
        padding = conv._inbound_nodes[0].inbound_layers  # the layer feeding the conv
        assert isinstance(padding, L.ZeroPadding2D) and conv.padding == "valid"
        assert padding.padding == ((1, 1), (1, 1))


@pytest.mark.parametrize("name", ["resnet20", "vgg16_bn", "wrn16_8", "densenet22"])
def test_initialisation_is_the_references(name):
    """bearpaw's models: conv kernels N(0, 2 / (k*k*out)) untruncated; the Linear as
    PyTorch's default U(+-1/sqrt(fan_in)) (VGG: N(0, 0.01); VGG and WRN: zero bias)."""
    model = models.build(name, num_classes=NUM_CLASSES, seed=0)
    kernels = np.concatenate([l.kernel.numpy().ravel() / np.sqrt(
        2.0 / (np.prod(l.kernel_size) * l.filters)) for l in model.layers
        if isinstance(l, L.Conv2D)])
    assert np.std(kernels) == pytest.approx(1.0, abs=0.02)
    assert np.abs(kernels).max() > 3.0  # not truncated at 2 standard deviations
    dense = [l for l in model.layers if isinstance(l, L.Dense)][-1]
    kernel, bias = dense.kernel.numpy(), dense.bias.numpy()
    bound = 1.0 / np.sqrt(kernel.shape[0])
    if name == "vgg16_bn":
        assert np.std(kernel) == pytest.approx(0.01, rel=0.1)
    else:
        assert np.abs(kernel).max() <= bound and np.std(kernel) > 0.45 * bound
    if name in ("vgg16_bn", "wrn16_8"):
        assert not bias.any()
    else:
        assert np.abs(bias).max() <= bound and bias.any()
