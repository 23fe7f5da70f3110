"""Which weights can still affect the output, read off the channel graph.

After a method picks its masks, two kinds of weights become useless: inputs of a layer
that read a channel whose producers are all gone (forward), and filters whose channel
no layer reads any more (backward). Both are zeroed, so that the keep ratio counts only
weights that matter and a filter-pruned network can be physically shrunk. The analyses
are tfprune.channels', with BatchNormalization as part of its channel.

A BatchNormalization whose input channel is dead still emits a constant (its shift),
which the next layers would read; physical shrinking would change the function. So
the scale and shift of dead channels are zeroed and held at zero while retraining
(`settle`'s second result, used by tfprune.cascade) and count as removed parameters.
"""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import channels, wrappers


def _dead_norm_channels(graph, alive):
    """{BatchNormalization layer name: bool per channel} for BNs with a dead channel."""
    result = {}
    for layer, inbound in graph.nodes:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            live = channels.per_channel(alive[inbound[0]])
            if not live.all():
                result[layer.name] = live
    return result


def settle(model, masks, graph=None):
    """(masks with every weight zeroed that can no longer affect the output,
    {BatchNormalization layer name: bool per channel, False where the channel is dead}).

    `masks` are 0/1 arrays in the order of `wrappers.prunable_layers(model)`; the kernels
    are read from the model and multiplied by them. `graph`: the model's
    channels.ChannelGraph, for a caller that settles many masks of one model (building
    it costs about a quarter of a settle on ResNet20).
    """
    graph = graph or channels.ChannelGraph(model)
    sources = {layer.name: inbound[0] for layer, inbound in graph.nodes if inbound}
    names = [layer.name for layer in wrappers.prunable_nodes(model)]
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    masks = [np.asarray(m, np.float32).copy() for m in masks]
    for _ in range(8):  # each pass can only remove more; two or three settle it
        masked = {name: k * m for name, k, m in zip(names, kernels, masks)}
        alive = graph.alive(masked)
        used = graph.used(masked, alive)
        changed = False
        for name, mask in zip(names, masks):
            inputs = channels.per_channel(alive[sources[name]])
            outputs_read = channels.per_channel(used[name])
            view = channels.kernel_view(mask)
            before = view.sum()
            view[..., ~inputs, :] = 0
            view[..., ~outputs_read] = 0
            changed |= view.sum() != before
        if not changed:
            break
    return masks, _dead_norm_channels(graph, alive)


def dead_norm_params(model, norm_channels):
    """Trainable BatchNormalization parameters of the dead channels (scale and shift)."""
    return sum(int(np.count_nonzero(~keep)) * len(model.get_layer(name).trainable_weights)
               for name, keep in norm_channels.items())
