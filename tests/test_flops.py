"""Multiply-accumulate counts against hand computations."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import flops, models, wrappers

L = tf.keras.layers


def test_macs_of_a_small_conv_and_dense_network_match_a_hand_count():
    inputs = tf.keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs)  # 4x4 out
    x = L.ReLU()(L.BatchNormalization()(x))
    x = L.Conv2D(5, 1)(x)  # 4x4 out, with a bias (not a multiply-accumulate)
    outputs = L.Dense(2)(L.GlobalAveragePooling2D()(x))
    model = tf.keras.Model(inputs, outputs)
    dense = 4 * 4 * (3 * 3 * 3 * 4) + 4 * 4 * (4 * 5) + 5 * 2
    assert flops.macs(model) == dense == 2058

    first = wrappers.prunable_layers(model)[0]
    first.kernel.assign(first.kernel * np.array([0, 1, 1, 1], np.float32))  # one filter gone
    assert flops.macs(model) == dense  # a dense count: zeros cost as much as weights
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.5))
    assert flops.macs(wrapped) == dense


@pytest.mark.parametrize("name, shortcuts, total", [
    ("resnet20_option_a", 0, 40_551_040),
    ("resnet20", 16 * 16 * 16 * 32 + 8 * 8 * 32 * 64, 40_813_184)])
def test_resnet20_costs_its_usual_41_million_macs(name, shortcuts, total):
    """3x3 convs: stem 32x32x3->16, per stage 6 convs at 32/16/8 px (the first of stages
    2 and 3 with stride 2 from half the channels), fc 64->10. Option A's shortcuts cost
    nothing; torchprune's are 1x1 convs 16->32 at 16 px and 32->64 at 8 px (its count
    by forward hooks on the PyTorch model: 40,813,184)."""
    model = models.build(name, seed=0)
    conv = lambda pixels, cin, cout: pixels * pixels * 9 * cin * cout  # noqa: E731
    expected = (conv(32, 3, 16) + 6 * conv(32, 16, 16)
                + conv(16, 16, 32) + 5 * conv(16, 32, 32)
                + conv(8, 32, 64) + 5 * conv(8, 64, 64) + 64 * 10)
    assert flops.macs(model) == expected + shortcuts == total


def test_tiled_macs_round_each_layers_outputs_up_to_the_tile():
    """A runtime computing 16 output channels at a time pays for 16 where a layer has 3,
    and for 32 where it has 17; only the output axis is rounded, not the inputs."""
    inputs = tf.keras.Input((8, 8, 5))
    x = L.Conv2D(3, 3, padding="same", use_bias=False)(inputs)
    x = L.Conv2D(17, 1, use_bias=False)(x)
    model = tf.keras.Model(inputs, L.Dense(16)(L.GlobalAveragePooling2D()(x)))
    assert flops.macs(model) == 64 * (9 * 5 * 3) + 64 * (3 * 17) + 17 * 16
    assert flops.macs(model, output_tile=16) == 64 * (9 * 5 * 16) + 64 * (3 * 32) + 17 * 16
    assert flops.macs(model, output_tile=1) == flops.macs(model)
