"""The channel graph: liveness through merges and concatenations, and its BatchNorm switch."""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import channels

L = tf.keras.layers


def _conv(filters, name):
    return L.Conv2D(filters, 3, padding="same", use_bias=False, name=name)


def _zero_filters(model, dead):
    """`model` with the filters `dead[layer name]` of its convs zeroed."""
    for name, filters in dead.items():
        layer = model.get_layer(name)
        kernel = layer.kernel.numpy()
        kernel[..., filters] = 0
        layer.kernel.assign(kernel)
    return model


def _alive_channels(model, exact_norms=False):
    graph = channels.ChannelGraph(model, exact_norms=exact_norms)
    return {name: channels.per_channel(units)
            for name, units in graph.alive(graph.kernels()).items()}


def test_a_residual_add_keeps_a_channel_alive_while_any_addend_is():
    inputs = tf.keras.Input((6, 6, 3))
    stem = _conv(4, "stem")(inputs)
    outputs = L.Add(name="add")([stem, _conv(4, "branch")(stem)])
    model = _zero_filters(tf.keras.Model(inputs, outputs), {"stem": [0, 1], "branch": [1, 2]})
    np.testing.assert_array_equal(_alive_channels(model)["add"], [True, False, True, True])


def test_a_concatenation_maps_channels_to_their_slices_both_ways():
    inputs = tf.keras.Input((6, 6, 3))
    joined = L.Concatenate(name="joined")([_conv(2, "left")(inputs), _conv(3, "right")(inputs)])
    reader = L.Conv2D(1, 1, use_bias=False, name="reader")
    model = _zero_filters(tf.keras.Model(inputs, reader(joined)), {"left": [0], "right": [2]})
    kernel = np.zeros(reader.kernel.shape, np.float32)
    kernel[0, 0, [1, 3], 0] = 1.0  # reads left's channel 1 and right's channel 1
    reader.kernel.assign(kernel)
    graph = channels.ChannelGraph(model)
    kernels = graph.kernels()
    alive = graph.alive(kernels)
    np.testing.assert_array_equal(channels.per_channel(alive["joined"]),
                                  [False, True, True, True, False])
    used = graph.used(kernels, alive)
    np.testing.assert_array_equal(channels.per_channel(used["left"]), [False, True])
    np.testing.assert_array_equal(channels.per_channel(used["right"]), [False, True, False])


def test_a_minimum_with_a_dead_input_stays_alive():
    """min(0, x) is x wherever x < 0: a probe of one sign would call it dead."""
    inputs = tf.keras.Input((6, 6, 3))
    outputs = L.Minimum(name="minimum")([_conv(2, "a")(inputs), _conv(2, "b")(inputs)])
    model = _zero_filters(tf.keras.Model(inputs, outputs), {"a": [0, 1], "b": [0]})
    np.testing.assert_array_equal(_alive_channels(model)["minimum"], [False, True])


def test_the_exact_mode_keeps_a_dead_channel_whose_batchnorm_shift_is_not_zero():
    inputs = tf.keras.Input((6, 6, 3))
    outputs = L.ReLU(name="relu")(L.BatchNormalization(name="norm")(_conv(3, "conv")(inputs)))
    model = _zero_filters(tf.keras.Model(inputs, outputs), {"conv": [0, 1]})
    model.get_layer("norm").beta.assign([0.5, 0.0, 0.0])
    np.testing.assert_array_equal(_alive_channels(model)["relu"], [False, False, True])
    np.testing.assert_array_equal(_alive_channels(model, exact_norms=True)["relu"],
                                  [True, False, True])


def test_a_graph_reused_over_changing_masks_gives_what_a_fresh_graph_gives():
    """The graph keeps each layer's last probe: a search's next masks must still see
    their own liveness (squeeze-and-excitation gates and hard-swish included)."""
    model = tf.keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), weights=None, classes=5, include_preprocessing=False)
    reused = channels.ChannelGraph(model)
    rng = np.random.default_rng(0)
    kernels = reused.kernels()
    for fraction in (0.2, 0.6, 0.2, 0.9):  # back to an earlier pattern, too
        masked = {}
        for name, kernel in kernels.items():
            kept = rng.random(kernel.shape[-1]) >= fraction
            masked[name] = kernel * kept  # whole filters, as a structured method removes
        expected_alive = channels.ChannelGraph(model).alive(masked)
        alive = reused.alive(masked)
        for name, units in expected_alive.items():
            np.testing.assert_array_equal(alive[name], units, err_msg=name)
        fresh = channels.ChannelGraph(model)
        expected_used = fresh.used(masked, fresh.alive(masked))
        used = reused.used(masked, alive)
        for name, units in expected_used.items():
            np.testing.assert_array_equal(used[name], units, err_msg=name)
        assert not all(units.all() for units in used.values())
