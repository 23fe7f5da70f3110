"""Physical shrinking of structured-pruned networks: the same logits from fewer parameters
and MACs, on every registered architecture, saved and reloaded without custom objects."""
import os

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from conftest import CIFAR_DIR
from export import shrink as shrink_lib
from tfprune import cascade, data, flops, methods, models, structure
from tfprune import storage
from tfprune import train, wrappers

L = tf.keras.layers
IMAGES = 16
CIFAR_MEAN, CIFAR_STD = (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)
ADD_FREE = ("cnn_small", "vgg16_bn", "densenet22")


@pytest.fixture(scope="module")
def images():
    """Real CIFAR-10 test images where the shared copy exists, else random pixels."""
    if os.path.exists(os.path.join(CIFAR_DIR, "test_batch.bin")):
        return data._read_cifar_binary(os.path.join(CIFAR_DIR, "test_batch.bin"))[0][:IMAGES]
    return np.random.default_rng(0).integers(0, 256, (IMAGES, 32, 32, 3), dtype=np.uint8)


def _logits(model, images):
    return model(images.astype(np.float32), training=False).numpy()


def _alive_filters(mask):
    return mask.reshape(-1, mask.shape[-1]).any(axis=0)


def _prune(model, images, rng, dead=0.5, inputs_dead=0.0):
    """Prune as a cascade leaves a network: random whole filters (and, with inputs_dead,
    input channels; never the model's input or the classifier's outputs) masked, dead
    weights settled, the BatchNorm scale and shift of dead channels zeroed. BatchNorm gets
    random scale and shift, and moving statistics from the images, so logits stay O(1)."""
    norms = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    for layer in norms:
        size = layer.gamma.shape[0]
        layer.gamma.assign(rng.uniform(0.5, 1.5, size))
        layer.beta.assign(rng.normal(0.0, 0.5, size))
    classifier = wrappers.prunable_layers(model)[-1]
    classifier.bias.assign(rng.normal(0.0, 1.0, classifier.bias.shape))
    masks = []
    for index, layer in enumerate(wrappers.prunable_layers(model)):
        *_, cin, cout = layer.kernel.shape
        keep_in = rng.random(cin) >= (inputs_dead if index else 0.0)
        keep_out = rng.random(cout) >= (dead if layer is not classifier else 0.0)
        masks.append(np.broadcast_to(np.outer(keep_in, keep_out), layer.kernel.shape)
                     .astype(np.float32))
    masks, norm_channels = structure.settle(model, masks)
    for layer, mask in zip(wrappers.prunable_layers(model), masks):
        layer.kernel.assign(layer.kernel * mask)
    for name, keep in norm_channels.items():
        layer = model.get_layer(name)
        layer.gamma.assign(layer.gamma * keep)
        layer.beta.assign(layer.beta * keep)
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0  # one training-mode pass sets the moving statistics
    model(images.astype(np.float32), training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum
    return masks


def _nonzero_able(model, masks):
    """Parameters a pruned network still has: the kernel weights its masks keep (one may
    be exactly zero by chance) and the non-zero biases, BatchNorm scales and shifts."""
    kernels = wrappers.prunable_kernels(model)
    return (cascade.nonzero_params(model) - sum(np.count_nonzero(k.numpy()) for k in kernels)
            + int(sum(mask.sum() for mask in masks)))


def _mask_macs(model, masks):
    """MACs of the weights the masks keep (flops.macs would skip an exact zero weight)."""
    return sum(int(np.prod(layer.output.shape[1:-1]) * mask.sum())
               for layer, mask in zip(wrappers.prunable_layers(model), masks))


def _option_a_resnet_params(masks):
    """CIFAR ResNet by its layout: a stem conv, then blocks of two 3x3 convs in three
    stages of 16, 32, 64 channels, joined by option-A shortcuts that pad the residual
    stream with zero channels on both sides. A stage's stream keeps every channel that
    the stem or a block's last conv writes or the shortcut carries in, and those that
    the next stage keeps in the shortcut's middle; inner channels keep their live filters."""
    alive = [_alive_filters(mask) for mask in masks]
    inner, last = alive[1:-1:2], alive[2:-1:2]
    blocks = len(inner) // 3
    carried, streams = alive[0], []  # the stem's channels enter stage 1's stream
    for stage in range(3):
        written = np.logical_or.reduce(last[stage * blocks:(stage + 1) * blocks])
        streams.append(written | np.pad(carried, (written.size - carried.size) // 2))
        carried = streams[-1]
    for stage in (1, 0):
        pad = (streams[stage + 1].size - streams[stage].size) // 2
        streams[stage] |= streams[stage + 1][pad:pad + streams[stage].size]
    widths = [int(stream.sum()) for stream in streams]
    total = 3 * 3 * 3 * widths[0] + 2 * widths[0]  # stem conv and BN
    width_in = widths[0]
    for index, filters in enumerate(inner):
        width, filters = widths[index // blocks], int(filters.sum())
        total += 9 * width_in * filters + 2 * filters + 9 * filters * width + 2 * width
        width_in = width
    return total + width_in * 10 + 10


def _projection_resnet_params(name, model, masks):
    """torchprune's CIFAR ResNet by its layout: a stem conv, then blocks of 2 convs (3
    from depth 44 on); where a block changes the shape, a 1x1 conv reads the block's
    input beside its first conv. A residual stream keeps every channel any of its writers
    keeps: a projection (or the stem, where the first block has none) and the last convs
    of the blocks that add to it. Other convs keep their live filters; each conv's
    BatchNorm has a scale and a shift per channel."""
    per_block = 3 if int(name.removeprefix("resnet")) >= 44 else 2
    layers = wrappers.prunable_layers(model)
    alive = {layer.name: _alive_filters(mask) for layer, mask in zip(layers, masks)}
    chain, projection, first_reader = [], {}, {}
    for layer in layers[:-1]:
        source = layer.inbound_nodes[0].inbound_layers
        if isinstance(source, L.ZeroPadding2D):  # a strided 3x3 conv's padding
            source = source.inbound_nodes[0].inbound_layers
        if source.name in first_reader:
            projection[first_reader[source.name]] = layer
        else:
            first_reader[source.name] = layer.name
            chain.append(layer)
    stream = [chain[0]]  # the convs writing the residual stream the next block reads
    reads = [(None, chain[0])]  # (a stream or a conv, the conv reading its output)
    for start in range(1, len(chain), per_block):
        block = chain[start:start + per_block]
        reads += [(stream, block[0])] + list(zip(block, block[1:]))
        if block[0].name in projection:
            reads.append((stream, projection[block[0].name]))
            stream = [projection[block[0].name]]
        stream.append(block[-1])
    in_stream = {conv.name: s for s, _ in reads if isinstance(s, list) for conv in s}

    def width(source):
        writers = source if isinstance(source, list) else in_stream.get(source.name, [source])
        return int(np.logical_or.reduce([alive[conv.name] for conv in writers]).sum())

    total = sum(int(np.prod(conv.kernel.shape[:2])) * (3 if source is None else width(source))
                * width(conv) + 2 * width(conv) for source, conv in reads)
    return total + width(stream) * 10 + 10


def _wrn_params(model, masks):
    """WRN by its layout: a stem conv; per stage a 1x1 projection and two blocks of two
    3x3 convs; BN-ReLU before each block, inside it and before the classifier. A stage's
    residual stream keeps every channel that its projection or a block's last conv
    writes (an Add needs equal widths, so each layer on the stream keeps them all); the
    stem and each block's inner channels keep their live filters."""
    layers = wrappers.prunable_layers(model)
    alive = [_alive_filters(mask) for mask in masks]
    width = int(alive[0].sum())
    total = 3 * 3 * 3 * width
    for stage in range(3):
        convs = list(zip(layers[1:-1], alive[1:-1]))[5 * stage:5 * stage + 5]
        (projection,) = [a for layer, a in convs if layer.kernel.shape[0] == 1]
        inner_1, last_1, inner_2, last_2 = [a for layer, a in convs if layer.kernel.shape[0] == 3]
        stream = int((projection | last_1 | last_2).sum())
        inner_1, inner_2 = int(inner_1.sum()), int(inner_2.sum())
        total += 2 * width + width * stream  # BN-ReLU, projection
        total += 9 * width * inner_1 + 2 * inner_1 + 9 * inner_1 * stream  # block 1
        total += 2 * stream + 9 * stream * inner_2 + 2 * inner_2 + 9 * inner_2 * stream
        width = stream
    return total + 2 * width + width * 10 + 10  # BN-ReLU, classifier


def _expected_params(name, model, masks):
    if name in ADD_FREE:
        return _nonzero_able(model, masks)  # nothing dead can stay
    if name == "wrn16_8":
        return _wrn_params(model, masks)
    if name.endswith("_option_a"):
        return _option_a_resnet_params(masks)
    return _projection_resnet_params(name, model, masks)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_shrunk_network_has_the_same_logits_and_the_expected_size(name, images, tmp_path):
    model = models.build(name, mean=CIFAR_MEAN, std=CIFAR_STD, seed=0)
    masks = _prune(model, images, np.random.default_rng(1))
    shrunk = shrink_lib.shrink(model)

    logits = _logits(shrunk, images)
    # float32 round-off grows with depth: ResNet110's 166 convs leave up to 3e-4 on its
    # logits (run in float64, both networks agree to 1e-12).
    tolerance = 1e-3 if name == "resnet110" else 1e-4
    assert np.abs(logits - _logits(model, images)).max() <= tolerance
    assert models.count_params(shrunk) == _expected_params(name, model, masks)
    assert cascade.nonzero_params(shrunk) == cascade.nonzero_params(model)
    assert flops.macs(shrunk) < flops.macs(model)
    if name in ADD_FREE:
        assert flops.macs(shrunk) == _mask_macs(model, masks)

    path = str(tmp_path / "shrunk.keras")
    storage.save_model(path, shrunk)
    reloaded = tf.keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(_logits(reloaded, images), logits, atol=1e-6)


@pytest.mark.parametrize("name", ["cnn_small", "resnet20", "resnet20_option_a",
                                  "densenet22"])
def test_pruned_input_channels_shrink_with_the_same_logits(name, images):
    """PFP prunes input channels: a channel some other layer still reads stays, as zeros."""
    model = models.build(name, mean=CIFAR_MEAN, std=CIFAR_STD, seed=0)
    _prune(model, images, np.random.default_rng(2), dead=0.3, inputs_dead=0.3)
    shrunk = shrink_lib.shrink(model)
    assert np.abs(_logits(shrunk, images) - _logits(model, images)).max() <= 1e-4
    assert cascade.nonzero_params(shrunk) == cascade.nonzero_params(model)
    assert models.count_params(shrunk) < models.count_params(model)


def test_a_layer_without_live_filters_keeps_one_zero_channel(images):
    model = models.build("cnn_small", mean=CIFAR_MEAN, std=CIFAR_STD, seed=0)
    middle = wrappers.prunable_layers(model)[1]
    middle.kernel.assign(tf.zeros_like(middle.kernel))
    _prune(model, images, np.random.default_rng(3), dead=0.0)
    shrunk = shrink_lib.shrink(model)
    assert [layer.kernel.shape[-1] for layer in wrappers.prunable_layers(shrunk)] == [1, 1, 1, 10]
    logits = _logits(shrunk, images)
    np.testing.assert_allclose(logits, _logits(model, images), atol=1e-4)
    bias = wrappers.prunable_layers(model)[-1].bias.numpy()
    np.testing.assert_allclose(logits, np.broadcast_to(bias, logits.shape), atol=1e-6)


def test_a_dead_filter_whose_batchnorm_shift_is_not_zero_keeps_its_channel(images):
    """A BatchNorm shift turns a dead filter into a constant channel the next layer reads."""
    model = models.build("cnn_small", mean=CIFAR_MEAN, std=CIFAR_STD, seed=0)
    _prune(model, images, np.random.default_rng(4), dead=0.0)
    first = wrappers.prunable_layers(model)[0]
    first.kernel.assign(tf.concat([tf.zeros_like(first.kernel[..., :4]), first.kernel[..., 4:]],
                                  axis=-1))
    shrunk = shrink_lib.shrink(model)
    assert wrappers.prunable_layers(shrunk)[0].kernel.shape[-1] == 16
    assert np.abs(_logits(shrunk, images) - _logits(model, images)).max() <= 1e-4


def test_pruning_wrappers_are_refused():
    model = models.build("cnn_small", seed=0)
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.5))
    with pytest.raises(ValueError, match="strip"):
        shrink_lib.shrink(wrapped)


def test_a_real_ft_cycle_shrinks_to_the_same_logits(tmp_path):
    from test_methods import _trained_digits_model

    model, dataset, config = _trained_digits_model()
    total = models.count_params(model)
    keep = cascade.keep_budget(model, 0.6, total)
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.6))
    prune = cascade.PruneToRatio(methods.get("ft").bind(), [keep],
                                 dataset.val_images.astype(np.float32))
    train.fit(wrapped, dataset, config, 1,
              callbacks=[prune, tfmot.sparsity.keras.UpdatePruningStep()])
    masks = [layer.pruning_vars[0][1].numpy() for layer in wrappers.wrappers_of(wrapped)]
    stripped = wrappers.strip(wrapped)
    path = str(tmp_path / "cycle.keras")
    storage.save_model(path, stripped)  # shrink what the cascade saves
    pruned = tf.keras.models.load_model(path, compile=False)

    shrunk = shrink_lib.shrink(pruned)
    test_images = dataset.test_images[:200]
    assert np.abs(_logits(shrunk, test_images) - _logits(pruned, test_images)).max() <= 1e-4
    assert models.count_params(shrunk) == _nonzero_able(pruned, masks)
    assert flops.macs(shrunk) == _mask_macs(pruned, masks) < flops.macs(pruned)
