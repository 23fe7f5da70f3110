"""Which weights can still affect the output, read off the functional graph.

After a method picks its masks, two kinds of weights become useless: inputs of a layer
that read a channel whose producers are all gone (forward), and filters whose channel
no layer reads any more (backward). Both are zeroed, so that the keep ratio counts only
weights that matter and a filter-pruned network can be physically shrunk.

A BatchNormalization whose input channel is dead still emits a constant (its shift),
which the next layers would read; physical shrinking would change the function. So
the scale and shift of dead channels are zeroed and held at zero while retraining
(`dead_norm_channels`, used by tfprune.cascade) and count as removed parameters.

The analysis follows the graph, not per-architecture code. Conv2D and Dense are read
from their masked kernels; BatchNormalization (and the input Normalization) is
treated as part of its channel, as physical filter pruning removes it with the filter;
every other layer (activations, pooling, padding, Permute, Add, Concatenate, Flatten,
...) is probed by calling it on 0/1 indicator tensors (forward) and by its gradient
(backward). So residual adds keep a channel alive while any addend is alive, and a
concatenation maps channels to their slices.
"""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import wrappers

_PASS_THROUGH = (tf.keras.layers.BatchNormalization, tf.keras.layers.Normalization)


def _topology(model):
    """[(layer, [inbound layer names])] in graph order, and the output layer names."""
    config = model.get_config()
    nodes = []
    for entry in config["layers"]:
        inbound = [item[0] for item in entry["inbound_nodes"][0]] if entry["inbound_nodes"] else []
        nodes.append((model.get_layer(entry["name"]), inbound))
    return nodes, [output[0] for output in config["output_layers"]]


def _channel_view(kernel):
    """Kernel as (spatial..., inputs, outputs) with the input axis second to last."""
    return kernel if kernel.ndim == 4 else kernel.reshape(1, 1, *kernel.shape)


def _forward_alive(nodes, kernels):
    """{layer name: bool array (output shape without batch)}: units that carry signal."""
    alive = {}
    prunable_index = 0
    for layer, inbound in nodes:
        inner = wrappers.unwrap(layer)
        if isinstance(layer, tf.keras.layers.InputLayer):
            alive[layer.name] = np.ones(layer.get_config()["batch_input_shape"][1:], bool)
        elif isinstance(inner, wrappers.PRUNABLE_LAYERS):
            source = alive[inbound[0]]
            kernel = _channel_view(kernels[prunable_index])
            prunable_index += 1
            inputs = source.reshape(-1, source.shape[-1]).any(axis=0)
            outputs = (kernel[..., inputs, :] != 0).any(axis=(0, 1, 2))
            if inner.use_bias:
                outputs |= inner.bias.numpy() != 0
            shape = inner.compute_output_shape((1, *source.shape))[1:]
            alive[layer.name] = np.broadcast_to(outputs, tuple(shape)).copy()
        elif isinstance(inner, _PASS_THROUGH):
            alive[layer.name] = alive[inbound[0]]
        else:
            probes = [tf.constant(alive[name][None], tf.float32) for name in inbound]
            result = layer(probes if len(probes) > 1 else probes[0], training=False)
            alive[layer.name] = np.abs(result.numpy()[0]) > 0
    return alive


def _backward_used(nodes, outputs, kernels, alive):
    """{layer name: bool array of its output}: units some path to the output reads."""
    used = {name: np.ones_like(alive[name]) for name in outputs}
    prunable_index = len(kernels)
    for layer, inbound in reversed(nodes):
        inner = wrappers.unwrap(layer)
        if isinstance(inner, wrappers.PRUNABLE_LAYERS):
            prunable_index -= 1
        if not inbound:
            continue
        reads = used.get(layer.name, np.zeros_like(alive[layer.name]))
        if isinstance(inner, wrappers.PRUNABLE_LAYERS):
            kernel = _channel_view(kernels[prunable_index])
            channels = reads.reshape(-1, reads.shape[-1]).any(axis=0)
            needed = (kernel[..., channels] != 0).any(axis=(0, 1, 3))
            shape = alive[inbound[0]].shape
            contributions = [np.broadcast_to(needed, shape)]
        elif isinstance(inner, _PASS_THROUGH):
            contributions = [reads]
        else:
            rng = np.random.default_rng(0)
            probes = [tf.constant(rng.uniform(1.0, 2.0, (1, *alive[n].shape)), tf.float32)
                      for n in inbound]
            with tf.GradientTape() as tape:
                tape.watch(probes)
                result = layer(probes if len(probes) > 1 else probes[0], training=False)
                total = tf.reduce_sum(result * tf.constant(reads[None], tf.float32))
            contributions = [np.abs(g.numpy()[0]) > 0 for g in tape.gradient(total, probes)]
        for name, contribution in zip(inbound, contributions):
            used[name] = used.get(name, np.zeros_like(alive[name])) | contribution
    return used


def _norm_liveness(nodes, alive):
    """{BatchNormalization layer name: bool per channel} for BNs with a dead channel."""
    result = {}
    for layer, inbound in nodes:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            source = alive[inbound[0]]
            channels = source.reshape(-1, source.shape[-1]).any(axis=0)
            if not channels.all():
                result[layer.name] = channels
    return result


def settle(model, masks):
    """(masks with every weight zeroed that can no longer affect the output,
    {BatchNormalization layer name: bool per channel, False where the channel is dead}).

    `masks` are 0/1 arrays in the order of `wrappers.prunable_layers(model)`; the kernels
    are read from the model and multiplied by them.
    """
    nodes, outputs = _topology(model)
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    masks = [np.asarray(m, np.float32).copy() for m in masks]
    prunable = [(layer, inbound) for layer, inbound in nodes
                if isinstance(wrappers.unwrap(layer), wrappers.PRUNABLE_LAYERS)]
    for _ in range(8):  # each pass can only remove more; two or three settle it
        masked = [k * m for k, m in zip(kernels, masks)]
        alive = _forward_alive(nodes, masked)
        used = _backward_used(nodes, outputs, masked, alive)
        changed = False
        for index, (layer, inbound) in enumerate(prunable):
            source = alive[inbound[0]]
            inputs = source.reshape(-1, source.shape[-1]).any(axis=0)
            reads = used.get(layer.name, np.zeros_like(alive[layer.name]))
            outputs_read = reads.reshape(-1, reads.shape[-1]).any(axis=0)
            view = _channel_view(masks[index])
            before = view.sum()
            view[..., ~inputs, :] = 0
            view[..., ~outputs_read] = 0
            changed |= view.sum() != before
        if not changed:
            break
    return masks, _norm_liveness(nodes, alive)


def remove_dead_weights(model, masks):
    """The masks of `settle`, without the BatchNormalization channels."""
    return settle(model, masks)[0]


def dead_norm_params(model, norm_channels):
    """Trainable BatchNormalization parameters of the dead channels (scale and shift)."""
    return sum(int(np.count_nonzero(~keep)) * len(model.get_layer(name).trainable_weights)
               for name, keep in norm_channels.items())
