"""Physically smaller tf.keras models: the channels structured pruning left dead are removed.

FT and PFP zero whole filters and input channels, and tfprune.structure zeroes the
BatchNorm scale and shift of every dead channel, so a dead channel is exactly zero
everywhere. `shrink` rebuilds the network without those channels: the same layer
classes and configs (only Conv2D `filters`, Dense `units` and channel padding change)
with the weights sliced, so the result computes the same function, saves as .keras and
reloads without custom objects.

It reads the functional graph, not the architecture. Every tensor gets the channels
that may be non-zero (Conv2D/Dense from their kernels; other layers pass their inputs'
channels on, plus any channel they map zero to non-zero, such as a BatchNorm shift).
Tensors joined by a channel-wise layer or an element-wise merge (Add, ...) share one
channel set, the union of what is alive in any of them, as an Add needs equal widths.
A Concatenate's set is its inputs' sets side by side. A Permute moves the channel axis,
and a ZeroPadding2D along it pads channels, which is how the CIFAR ResNets' option-A
shortcut widens the residual stream; the padding shrinks to the zero channels kept.
Rules that keep the graph valid:
  - Tensors that touch any other layer (Reshape, Flatten, Normalization, pooling over
    a permuted channel axis, anything unknown), the model's inputs and its outputs
    keep their full width; so the classifier keeps every output.
  - A channel set with nothing alive keeps one (zero) channel.
"""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import structure, wrappers

_L = tf.keras.layers
_WEIGHTED = (_L.Conv2D, _L.Dense)
# Layers whose output channel c depends only on input channel c (of each input).
_CHANNEL_WISE = (
    _L.BatchNormalization, _L.ReLU, _L.LeakyReLU, _L.ELU, _L.Activation,
    _L.Dropout, _L.SpatialDropout2D, _L.GaussianNoise, _L.GaussianDropout,
    _L.MaxPooling2D, _L.AveragePooling2D, _L.GlobalAveragePooling2D, _L.GlobalMaxPooling2D,
    _L.ZeroPadding2D, _L.Cropping2D, _L.UpSampling2D,
    _L.Add, _L.Subtract, _L.Multiply, _L.Average, _L.Maximum, _L.Minimum)
_MIXING_ACTIVATIONS = ("softmax", "log_softmax")


def _kind(layer, input_axes):
    """What `layer` does to the channels of its inputs, given their channel axes (counted
    from the end, -1 = last): 'weighted' (Conv2D/Dense), 'channel_wise', 'permute',
    'concat', 'pad' (ZeroPadding2D along the channel axis) or 'opaque' (its tensors keep
    their full width)."""
    config = layer.get_config()
    if (not input_axes or config.get("data_format") not in (None, "channels_last")
            or config.get("activation") in _MIXING_ACTIVATIONS):
        return "opaque"
    if type(layer) is _L.Permute:
        return "permute"
    if type(layer) is _L.ZeroPadding2D and input_axes[0] in (-3, -2):
        return "pad"
    if any(axis != -1 for axis in input_axes):
        return "opaque"  # e.g. pooling over a permuted channel axis
    last = (-1, len(layer.output.shape) - 1)
    if type(layer) in _WEIGHTED and config.get("groups", 1) == 1:
        return "weighted"
    if type(layer) is _L.Concatenate:
        return "concat" if config["axis"] in last else "opaque"
    if type(layer) is _L.BatchNormalization:
        axes = np.ravel(config["axis"])
        return "channel_wise" if len(axes) == 1 and axes[0] in last else "opaque"
    return "channel_wise" if type(layer) in _CHANNEL_WISE else "opaque"


def _padding(layer, axis):
    """(before, after): the zero channels a ZeroPadding2D adds along channel axis -3 or -2."""
    return tuple(layer.get_config()["padding"][axis + 3])


def _zero_response(layer, axis):
    """Per output channel: is it non-zero when every input is zero (a bias, a shift)?"""
    zeros = tf.nest.map_structure(lambda t: tf.zeros((1, *t.shape[1:])), layer.input)
    response = np.moveaxis(layer(zeros, training=False).numpy(), axis, -1)
    return (response != 0).reshape(-1, response.shape[-1]).any(axis=0)


def _alive(layer, kind, axis, inputs_alive):
    """Per output channel of `layer`: may it be non-zero, given which input channels may?"""
    if kind == "opaque":
        return np.ones(layer.output.shape[axis], bool)
    if kind == "concat":
        return np.concatenate(inputs_alive)
    if kind == "pad":
        before, after = _padding(layer, axis)
        return np.concatenate([np.zeros(before, bool), inputs_alive[0], np.zeros(after, bool)])
    if kind == "weighted":
        kernel = layer.kernel.numpy()
        kernel = kernel.reshape(-1, *kernel.shape[-2:])[:, inputs_alive[0], :]
        alive = (kernel != 0).any(axis=(0, 1))
    else:
        alive = np.logical_or.reduce(inputs_alive)
    return alive | _zero_response(layer, axis)


def _plan(model):
    """(graph nodes, {layer name: (kind, channel axis of its output, from the end)},
    {layer name: indices of its output channels the shrunk model keeps})."""
    nodes, outputs = structure._topology(model)
    group = {}  # union-find over tensors (named by their layer) that share a channel set

    def root(name):
        while group.get(name, name) != name:
            name = group[name]
        return name

    layout, alive, joins, full = {}, {}, [], set(outputs)
    for layer, inbound in nodes:
        kind = _kind(layer, [layout[name][1] for name in inbound])
        axis = layout[inbound[0]][1] if kind == "pad" else -1
        if kind == "permute":  # dims number the non-batch axes of the input from 1
            rank = len(layer.output.shape)
            axis = list(layer.get_config()["dims"]).index(layout[inbound[0]][1] + rank) + 1 - rank
        layout[layer.name] = (kind, axis)
        alive[layer.name] = _alive(layer, kind, axis, [alive[name] for name in inbound])
        if kind in ("channel_wise", "permute"):
            for name in inbound:
                group[root(name)] = root(layer.name)
        elif kind == "opaque":
            full.update(inbound + [layer.name])
        elif kind == "concat":
            joins.append((layer.name, [(name, len(alive[name])) for name in inbound]))
        elif kind == "pad":
            before, after = _padding(layer, axis)
            joins.append((layer.name, [(None, before), (inbound[0], len(alive[inbound[0]])),
                                       (None, after)]))

    keep = {}
    for name, channels in alive.items():
        keep[root(name)] = keep.get(root(name), np.zeros_like(channels)) | channels
    for name in full:
        keep[root(name)][:] = True
    changed = True
    while changed:  # a join's output set is its parts side by side; grow both until they agree
        changed = False
        for name, parts in joins:
            joined = keep[root(name)] | np.concatenate(
                [keep[root(part)] if part else np.zeros(size, bool) for part, size in parts])
            starts = np.cumsum([0] + [size for _, size in parts])
            for target, channels in [(name, joined)] + [
                    (part, joined[start:start + size])
                    for (part, size), start in zip(parts, starts) if part]:
                grown = keep[root(target)] | channels
                if not np.array_equal(keep[root(target)], grown):
                    keep[root(target)], changed = grown, True
        for channels in keep.values():
            if not channels.any():
                channels[0], changed = True, True
    return nodes, layout, {name: np.flatnonzero(keep[root(name)]) for name in alive}


def _new_config(entry, kind, axis, layer, channels):
    """The layer's config for its kept channels."""
    config = dict(entry["config"])
    if kind == "weighted":
        config["filters" if entry["class_name"] == "Conv2D" else "units"] = len(channels)
    elif kind == "pad":
        before, after = _padding(layer, axis)
        kept = np.zeros(layer.output.shape[axis], bool)
        kept[channels] = True
        padding = [list(p) for p in config["padding"]]
        padding[axis + 3] = [int(kept[:before].sum()), int(kept[len(kept) - after:].sum())]
        config["padding"] = padding
    return config


def _sliced_weights(layer, kind, inputs, outputs):
    weights = layer.get_weights()
    if kind == "weighted":
        kernel, *bias = weights
        return [kernel[..., inputs, :][..., outputs]] + [b[outputs] for b in bias]
    if kind == "channel_wise":
        return [w[..., outputs] for w in weights]
    return weights


def shrink(model):
    """A dense model without `model`'s dead channels, computing the same function.

    `model` is a plain functional tf.keras model (pruning wrappers stripped) whose dead
    channels are exactly zero: all-zero filters, with zero BatchNorm scale and shift, as
    tfprune.cascade leaves them. Rules and limits are in the module docstring.
    """
    if wrappers.wrappers_of(model):
        raise ValueError("the model still has pruning wrappers; strip them first "
                         "(tfprune.wrappers.strip)")
    config = model.get_config()
    if "inbound_nodes" not in config["layers"][0]:
        raise ValueError("shrink needs a functional tf.keras model")
    if any(len(entry["inbound_nodes"]) > 1 for entry in config["layers"]):
        raise ValueError("shrink needs every layer called once; rebuild shared layers apart")
    nodes, layout, channels = _plan(model)
    for entry in config["layers"]:
        kind, axis = layout[entry["name"]]
        entry["config"] = _new_config(entry, kind, axis, model.get_layer(entry["name"]),
                                      channels[entry["name"]])
    shrunk = tf.keras.Model.from_config(config)
    for layer, names in nodes:
        inputs = channels[names[0]] if names else None
        shrunk.get_layer(layer.name).set_weights(
            _sliced_weights(layer, layout[layer.name][0], inputs, channels[layer.name]))
    return shrunk
