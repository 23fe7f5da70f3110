"""Dead-weight removal follows the graph: chains, residual adds, concatenations."""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import structure, wrappers

L = tf.keras.layers


def _conv(filters, name):
    return L.Conv2D(filters, 3, padding="same", use_bias=False, name=name)


def _ones_masks(model):
    return [np.ones(k.shape, np.float32) for k in wrappers.prunable_kernels(model)]


def _chain():
    inputs = tf.keras.Input((8, 8, 3))
    x = L.ReLU()(L.BatchNormalization()(_conv(4, "a")(inputs)))
    x = L.ReLU()(L.BatchNormalization()(_conv(4, "b")(x)))
    outputs = L.Dense(2, name="fc")(L.GlobalAveragePooling2D()(x))
    return tf.keras.Model(inputs, outputs)


def test_a_removed_filter_removes_the_inputs_that_read_it():
    model = _chain()
    masks = _ones_masks(model)
    masks[0][..., 1] = 0  # filter 1 of a
    a, b, fc = structure.settle(model, masks)[0]
    assert np.all(b[:, :, 1, :] == 0) and np.all(b[:, :, [0, 2, 3], :] == 1)
    np.testing.assert_array_equal(a, masks[0])
    assert np.all(fc == 1)


def test_a_channel_nobody_reads_loses_its_filter():
    model = _chain()
    masks = _ones_masks(model)
    masks[1][:, :, 2, :] = 0  # no filter of b reads channel 2 of a
    masks[2][3, :] = 0  # the classifier ignores channel 3 of b
    a, b, _ = structure.settle(model, masks)[0]
    assert np.all(a[..., 2] == 0) and np.all(a[..., [0, 1, 3]] == 1)
    assert np.all(b[..., 3] == 0)  # filter 3 of b feeds nothing now
    assert np.all(b[:, :, 2, :] == 0) and np.all(b[:, :, [0, 1, 3], :3] == 1)


def test_a_residual_add_keeps_a_channel_alive_while_any_addend_is():
    inputs = tf.keras.Input((8, 8, 4))
    stem = _conv(4, "stem")(inputs)
    branch = _conv(4, "branch")(stem)
    x = L.Add()([stem, branch])
    outputs = L.Dense(2, name="fc")(L.GlobalAveragePooling2D()(_conv(4, "after")(x)))
    model = tf.keras.Model(inputs, outputs)
    masks = _ones_masks(model)
    masks[1][..., 0] = 0  # branch filter 0 gone, stem's channel 0 still flows
    _, branch_mask, after, _ = structure.settle(model, masks)[0]
    assert np.all(after == 1)
    masks[0][..., 0] = 0  # now both addends of channel 0 are gone
    stem_mask, _, after, _ = structure.settle(model, masks)[0]
    assert np.all(after[:, :, 0, :] == 0) and np.all(after[:, :, 1:, :] == 1)


def test_concatenation_maps_channels_to_their_slices():
    inputs = tf.keras.Input((8, 8, 3))
    left = _conv(2, "left")(inputs)
    right = _conv(3, "right")(inputs)
    x = L.Concatenate()([left, right])
    outputs = L.Dense(2, name="fc")(L.GlobalAveragePooling2D()(_conv(4, "after")(x)))
    model = tf.keras.Model(inputs, outputs)
    masks = _ones_masks(model)
    masks[1][..., 1] = 0  # right's filter 1 = channel 2 + 1 = 3 of the concatenation
    after = structure.settle(model, masks)[0][2]
    assert np.all(after[:, :, 3, :] == 0)
    assert np.all(np.delete(after, 3, axis=2) == 1)


def test_option_a_shortcut_of_the_registry_resnet_keeps_padded_channels_dead():
    from tfprune import models

    model = models.build("resnet20_option_a", (32, 32, 3), 10)
    masks = structure.settle(model, _ones_masks(model))[0]
    assert all(np.all(m == 1) for m in masks)  # nothing is dead in the intact network
