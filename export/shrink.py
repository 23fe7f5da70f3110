"""Physically smaller tf.keras models: the channels structured pruning left dead are removed.

FT and PFP zero whole filters and input channels, and tfprune.structure zeroes the
BatchNorm scale and shift (and depthwise kernel) of every dead channel, so a dead
channel is exactly zero everywhere. `shrink` rebuilds the network without those
channels: the same layer classes and configs (only Conv2D `filters`, Dense `units`,
channel padding and a squeeze-and-excitation Reshape's last axis change) with the
weights sliced, so the result computes the same function, saves as .keras and reloads
without custom objects.

It reads the functional graph, not the architecture. Every tensor gets the channels
that may be non-zero and that some path to the output reads: tfprune.channels'
liveness with BatchNorm taken exactly, so a dead filter whose BatchNorm shift is not
zero keeps its channel, and a squeeze-and-excitation gate's channel goes with the dead
channel it multiplies. Tensors joined by a
channel-wise layer (a depthwise convolution, a Reshape keeping the last axis, the
TFOpLambda ops of hard-swish) or an element-wise merge (Add, a squeeze-and-excitation
Multiply, ...) share one channel set, the union of what is alive in any of them, as an
Add needs equal widths. A Concatenate's
set is its inputs' sets side by side. A Permute moves the channel axis, and a
ZeroPadding2D along it pads channels, which is how the option-A CIFAR ResNets' shortcut
widens the residual stream; the padding shrinks to the zero channels kept.
Rules that keep the graph valid:
  - Tensors that touch any other layer (Flatten, Normalization, pooling over
    a permuted channel axis, anything unknown), the model's inputs and its outputs
    keep their full width; so the classifier keeps every output.
  - A channel set with nothing alive keeps one (zero) channel.
"""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import channels, wrappers


def _padding(layer, axis):
    """(before, after): the zero channels a ZeroPadding2D adds along channel axis -3 or -2."""
    return tuple(layer.get_config()["padding"][axis + 3])


def _plan(model):
    """(the channel graph, its {layer name: channels.Layout},
    {layer name: indices of its output channels the shrunk model keeps})."""
    graph = channels.ChannelGraph(model, exact_norms=True)
    layout = graph.layout()
    kernels = graph.kernels()
    units = graph.alive(kernels)
    used = graph.used(kernels, units)
    alive = {name: channels.per_channel(units[name] & used[name], layout[name].axis)
             for name in units}
    group = {}  # union-find over tensors (named by their layer) that share a channel set

    def root(name):
        while group.get(name, name) != name:
            name = group[name]
        return name

    joins, full = [], set(graph.outputs)
    for layer, inbound in graph.nodes:
        kind, axis = layout[layer.name]
        if kind in ("channel_wise", "depthwise", "reshape", "permute"):
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
    for name, live in alive.items():
        keep[root(name)] = keep.get(root(name), np.zeros_like(live)) | live
    for name in full:
        keep[root(name)][:] = True
    changed = True
    while changed:  # a join's output set is its parts side by side; grow both until they agree
        changed = False
        for name, parts in joins:
            joined = keep[root(name)] | np.concatenate(
                [keep[root(part)] if part else np.zeros(size, bool) for part, size in parts])
            starts = np.cumsum([0] + [size for _, size in parts])
            for target, required in [(name, joined)] + [
                    (part, joined[start:start + size])
                    for (part, size), start in zip(parts, starts) if part]:
                grown = keep[root(target)] | required
                if not np.array_equal(keep[root(target)], grown):
                    keep[root(target)], changed = grown, True
        for kept in keep.values():
            if not kept.any():
                kept[0], changed = True, True
    return graph, layout, {name: np.flatnonzero(keep[root(name)]) for name in alive}


def _new_config(entry, kind, axis, layer, kept):
    """The layer's config for its kept channels."""
    config = dict(entry["config"])
    if kind == "weighted":
        config["filters" if entry["class_name"] == "Conv2D" else "units"] = len(kept)
    elif kind == "pad":
        before, after = _padding(layer, axis)
        is_kept = np.zeros(layer.output.shape[axis], bool)
        is_kept[kept] = True
        padding = [list(p) for p in config["padding"]]
        padding[axis + 3] = [int(is_kept[:before].sum()),
                             int(is_kept[len(is_kept) - after:].sum())]
        config["padding"] = padding
    elif kind == "reshape":
        config["target_shape"] = [*config["target_shape"][:-1], len(kept)]
    return config


def _sliced_weights(layer, kind, inputs, outputs):
    weights = layer.get_weights()
    if kind == "weighted":
        kernel, *bias = weights
        return [kernel[..., inputs, :][..., outputs]] + [b[outputs] for b in bias]
    if kind == "depthwise":
        kernel, *bias = weights
        return [kernel[..., outputs, :]] + [b[outputs] for b in bias]
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
    graph, layout, kept = _plan(model)
    for entry in config["layers"]:
        kind, axis = layout[entry["name"]]
        entry["config"] = _new_config(entry, kind, axis, model.get_layer(entry["name"]),
                                      kept[entry["name"]])
    shrunk = tf.keras.Model.from_config(config)
    for layer, inbound in graph.nodes:
        inputs = kept[inbound[0]] if inbound else None
        shrunk.get_layer(layer.name).set_weights(
            _sliced_weights(layer, layout[layer.name].kind, inputs, kept[layer.name]))
    return shrunk
