"""A dead channel through a depthwise convolution, hard-swish (TFOpLambda ops) and a
squeeze-and-excitation gate: the graph rule kills the channel's depthwise kernel, the
gate's filter and the next layer's input, and shrinking removes it everywhere."""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from export import shrink
from tfprune import structure, wrappers

L = tf.keras.layers
DEAD = 1  # the first conv's filter that is pruned


def _hard_sigmoid(x):
    return L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _network():
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((8, 8, 3))
    x = L.BatchNormalization()(L.Conv2D(4, 3, padding="same", use_bias=False)(inputs))
    x = L.Multiply()([x, _hard_sigmoid(x)])  # hard-swish
    x = L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x))
    gate = L.Reshape((1, 1, 4))(L.GlobalAveragePooling2D()(x))
    gate = _hard_sigmoid(L.Conv2D(4, 1)(L.ReLU()(L.Conv2D(2, 1)(gate))))
    x = L.Multiply()([x, gate])
    x = L.Conv2D(3, 1, use_bias=False)(x)
    outputs = L.Dense(2)(L.GlobalAveragePooling2D()(x))
    return tf.keras.Model(inputs, outputs)


def _settled_network():
    model = _network()
    masks = [np.ones(k.shape, np.float32) for k in wrappers.prunable_kernels(model)]
    masks[0][..., DEAD] = 0
    masks, norm_channels = structure.settle(model, masks)
    for kernel, mask in zip(wrappers.prunable_kernels(model), masks):
        kernel.assign(kernel * mask)
    for name, keep in norm_channels.items():
        for weight in model.get_layer(name).trainable_weights:
            weight.assign(weight * structure.channel_keep(weight, keep))
    return model, masks, norm_channels


def test_the_dead_channel_dies_through_depthwise_and_gate():
    model, masks, norm_channels = _settled_network()
    stem, reduce, expand, after, _ = masks
    assert not stem[..., DEAD].any()
    assert not reduce[..., DEAD, :].any()  # the squeeze reads the dead channel's mean
    assert not expand[..., DEAD].any()  # the gate of a dead channel is read by no one
    assert not after[..., DEAD, :].any()
    depthwise = next(layer for layer in model.layers if isinstance(layer, L.DepthwiseConv2D))
    assert not norm_channels[depthwise.name][DEAD] and norm_channels[depthwise.name].sum() == 3
    assert not depthwise.depthwise_kernel.numpy()[..., DEAD, :].any()
    kernel_size = depthwise.depthwise_kernel.shape.num_elements() // 4
    norms = 2 * sum(1 for layer in model.layers if isinstance(layer, L.BatchNormalization))
    assert structure.dead_norm_params(model, norm_channels) == kernel_size + norms


def test_shrinking_removes_the_channel_from_block_gate_and_convs():
    model, _, _ = _settled_network()
    shrunk = shrink.shrink(model)
    images = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(shrunk(images, training=False), model(images, training=False),
                               atol=1e-5)
    widths = [layer.kernel.shape[-1] for layer in wrappers.prunable_layers(shrunk)]
    assert widths == [3, 2, 3, 3, 2]
    depthwise = next(layer for layer in shrunk.layers if isinstance(layer, L.DepthwiseConv2D))
    assert depthwise.depthwise_kernel.shape == (3, 3, 3, 1)
    reshape = next(layer for layer in shrunk.layers if isinstance(layer, L.Reshape))
    assert tuple(reshape.target_shape) == (1, 1, 3)
