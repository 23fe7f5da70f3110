"""Which weights can still affect the output once a method has picked its masks: two
rules, `DEAD_WEIGHT_RULES` (config key prune.dead_weights), each bound to a network and
settling candidate masks for the budget search (tfprune.methods.budget) and the cascade.

graph (tfprune's): read off the channel graph (tfprune.channels, BatchNormalization as
part of its channel). Inputs of a layer that read a channel whose producers are all gone
(forward) and filters whose channel no layer reads any more (backward) are zeroed, so
a filter-pruned network can be physically shrunk. A BatchNormalization whose input
channel is dead still emits a constant (its shift), which the next layers would read;
shrinking would change the function. So the scale and shift of dead channels are zeroed
and held at zero while retraining, and count as removed parameters. A depthwise
convolution's channel c reads only channel c: its kernel and bias of a channel whose
input is dead, or whose output no layer reads, are zeroed and held alike. Depthwise
kernels are not prunable weights of their own (the methods score Conv2D and Dense, as
the study's do; see docs/methods.md): they die with their channel.

zero_gradient (the reference's, torchprune's CompressedNet._propagate_compression): the
masked network's gradient of the training loss on the scoring batch S, in inference
mode. An unstructured method loses every trainable entry whose gradient is exactly zero
(kernels, biases, BatchNorm); a structured one every filter whose gradient is zero and
every input channel that is identical on all of S, BatchNorm untouched. What is kept
is the non-zero count of all trainable weights; nothing but the kernels is held at
zero while retraining, as in the reference.
"""
import typing

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import channels, wrappers


class Settled(typing.NamedTuple):
    """Masks once a rule has removed the weights that cannot affect the output."""
    masks: list  # 0/1 per prunable kernel (tfprune.wrappers order)
    removed: int  # non-kernel trainable parameters the rule counts as gone
    others: tuple  # ((variable, 0/1 array), ...): non-kernel weights zeroed with the masks
    held: bool  # `others` stay zero through retraining (graph) or are zeroed once


def _tied_to_channels(layer):
    """Are `layer`'s weights per channel of its input (BatchNormalization, a depthwise
    convolution of depth multiplier 1)?"""
    return (isinstance(layer, tf.keras.layers.BatchNormalization)
            or (isinstance(layer, tf.keras.layers.DepthwiseConv2D)
                and layer.depth_multiplier == 1))


def _dead_norm_channels(graph, alive, used):
    """{layer name: bool per channel} for the channel-tied layers (BatchNormalization,
    DepthwiseConv2D) with a dead channel: its input is dead, or (depthwise) its output
    is read by no layer."""
    result = {}
    for layer, inbound in graph.nodes:
        if _tied_to_channels(layer):
            live = channels.per_channel(alive[inbound[0]])
            if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
                live = live & channels.per_channel(used[layer.name])
            if not live.all():
                result[layer.name] = live
    return result


def channel_keep(weight, keep):
    """0/1 array of `weight`'s shape from a channel-tied layer's bool per channel: a
    depthwise kernel (kh, kw, C, 1) has its channels on the second to last axis."""
    trailing = 1 if len(weight.shape) == 4 else 0
    keep = np.asarray(keep, np.float32).reshape(len(keep), *[1] * trailing)
    return np.broadcast_to(keep, weight.shape).copy()


def settle(model, masks, graph=None):
    """The graph rule: (masks with every weight zeroed that can no longer affect the
    output, {channel-tied layer name (BatchNormalization, DepthwiseConv2D): bool per
    channel, False where it is dead}).

    `masks` are 0/1 arrays in the order of `wrappers.prunable_layers(model)`; the kernels
    are read from the model and multiplied by them. `graph`: the model's
    channels.ChannelGraph, for a caller that settles many masks of one model (building
    it costs about a quarter of a settle on ResNet20).
    """
    graph = graph or channels.ChannelGraph(model)
    sources = {layer.name: inbound[0] for layer, inbound in graph.nodes if inbound}
    names = [layer.name for layer in wrappers.prunable_nodes(model)]
    nonzero = [k.numpy() != 0 for k in wrappers.prunable_kernels(model)]
    masks = [np.asarray(m, np.float32).copy() for m in masks]
    for _ in range(8):  # each pass can only remove more; two or three settle it
        masked = {name: n & (m != 0) for name, n, m in zip(names, nonzero, masks)}
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
    return masks, _dead_norm_channels(graph, alive, used)


def dead_norm_params(model, norm_channels):
    """Trainable parameters of the dead channels of channel-tied layers (a BN's scale and
    shift, a depthwise convolution's kernel and bias)."""
    return sum(int(np.count_nonzero(channel_keep(weight, keep) == 0))
               for name, keep in norm_channels.items()
               for weight in model.get_layer(name).trainable_weights)


class GraphRule:
    """`settle` bound to a network, its channel graph built once."""

    def __init__(self, model, images=None, labels=None, structured=False):
        del images, labels, structured  # the graph alone decides
        self.model, self.graph = model, channels.ChannelGraph(model)

    def settle(self, masks):
        masks, norm_channels = settle(self.model, masks, self.graph)
        others = tuple((weight, channel_keep(weight, keep))
                       for name, keep in norm_channels.items()
                       for weight in self.model.get_layer(name).trainable_weights)
        return Settled(masks, dead_norm_params(self.model, norm_channels), others, True)


class ZeroGradientRule:
    """The reference's rule on the scoring batch S (`images`, `labels`; two or more)."""

    batch_size = 64

    def __init__(self, model, images, labels, structured):
        if images is None or labels is None or len(images) < 2:
            raise ValueError("the zero_gradient rule needs two or more scoring images "
                             "with their labels")
        self.model, self.structured = model, structured
        self.images, self.labels = np.asarray(images, np.float32), np.asarray(labels)
        self.kernels = wrappers.prunable_kernels(model)
        kernel_refs = {kernel.ref() for kernel in self.kernels}
        self.others = [w for w in model.trainable_weights if w.ref() not in kernel_refs]
        # The logits and, for the constant-channel check, every prunable layer's input.
        inputs = [node.input for node in wrappers.prunable_nodes(model)] if structured else []
        self.probe = tf.keras.Model(model.inputs, [model.outputs[0], *inputs])

    def _batch(self, images, labels):
        """The mean loss's gradient per trainable weight on one batch (zero where a
        weight does not reach the loss), and the probed layer inputs."""
        with tf.GradientTape() as tape:
            logits, *inputs = tf.nest.flatten(self.probe(images, training=False))
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True))
        return tape.gradient(loss, self.kernels + self.others,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO), inputs

    def _gradients(self, masks):
        """(gradient per trainable weight, summed over S; per prunable layer, bool per
        input channel: identical on all of S) of the network masked by `masks`; the
        kernels are restored afterwards. Each batch runs in replica context (a Keras
        callback is called in cross-replica context, where a tape cannot watch mirrored
        variables); every replica computes the same, the first one's is read."""
        strategy = self.model.distribute_strategy
        saved = [kernel.numpy() for kernel in self.kernels]
        gradients = [np.zeros(w.shape, np.float64) for w in self.kernels + self.others]
        constant = [np.ones(channels.kernel_view(k).shape[-2], bool) for k in saved]
        first = None
        try:
            for kernel, value, mask in zip(self.kernels, saved, masks):
                kernel.assign(value * mask)
            for start in range(0, len(self.images), self.batch_size):
                batch = slice(start, start + self.batch_size)
                result = strategy.run(self._batch, args=(tf.constant(self.images[batch]),
                                                         tf.constant(self.labels[batch])))
                batch_gradients, inputs = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0].numpy(), result)
                for total, gradient in zip(gradients, batch_gradients):
                    total += gradient
                if first is None:
                    first = [x[:1] for x in inputs]
                for still, x, f in zip(constant, inputs, first):
                    still &= ~channels.per_channel((x != f).any(axis=0))
        finally:
            for kernel, value in zip(self.kernels, saved):
                kernel.assign(value)
        return gradients, constant

    def settle(self, masks):
        gradients, constant = self._gradients(masks)
        kernel_gradients = gradients[:len(self.kernels)]
        masks = [np.asarray(m, np.float32).copy() for m in masks]
        others = ()
        if self.structured:
            for mask, gradient, still in zip(masks, kernel_gradients, constant):
                view = channels.kernel_view(mask)
                flat = np.abs(channels.kernel_view(gradient))
                view[..., flat.reshape(-1, flat.shape[-1]).sum(axis=0) == 0] = 0
                view[..., still, :] = 0
        else:
            masks = [m * (g != 0) for m, g in zip(masks, kernel_gradients)]
            others = tuple((w, (g != 0).astype(np.float32)) for w, g in
                           zip(self.others, gradients[len(self.kernels):]) if not (g != 0).all())
        zeroed = {weight.ref(): keep for weight, keep in others}
        kept = sum(int(np.count_nonzero(w.numpy() * zeroed.get(w.ref(), 1.0)))
                   for w in self.others)
        return Settled(masks, sum(w.shape.num_elements() for w in self.others) - kept,
                       others, False)


# prune.dead_weights -> rule(model, images, labels, structured), with .settle(masks)
DEAD_WEIGHT_RULES = {"graph": GraphRule, "zero_gradient": ZeroGradientRule}
