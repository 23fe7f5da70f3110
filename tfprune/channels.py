"""The channel graph of a functional tf.keras model: its topology, how each layer maps
channels, and which units can carry signal.

Two analyses need it: removing the weights that can no longer affect the output while
a method searches its masks (tfprune.structure), and removing the channels that are
zero everywhere from a saved model (export.shrink). Both follow the graph, not
per-architecture code. Conv2D and Dense are read from their (masked) kernels, plus
what they output for zero input (a bias); every other layer (activations, pooling,
padding, depthwise convolutions, Permute, Add, Multiply, Concatenate, Reshape, the
TFOpLambda ops of `x + 3.0` in hard-swish, Flatten, ...) is probed by calling it, with
the constants its node was called with, on tensors that are zero on dead units
(forward) and by its gradient (backward). So residual adds keep a channel alive while
any addend is alive, a squeeze-and-excitation Multiply keeps it while both the block
and its (1, 1, C) gate are, and a concatenation maps channels to their slices.

BatchNormalization and Normalization are the one switch, `exact_norms`:
  - False: part of their channel, passing liveness through. Physical filter pruning
    removes a BN with its filter, and tfprune.cascade zeroes the scale and shift of a
    dead channel, so during the mask search a dead channel stays dead through its BN.
  - True: exactly, a unit is alive if its input is or if the layer's response to zero
    input is non-zero. A saved model's BN may hold a non-zero shift on a dead filter,
    a constant the next layers read, so shrinking must keep that channel.
"""
import typing

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import wrappers

_L = tf.keras.layers
_NORMS = (_L.BatchNormalization, _L.Normalization)
_WEIGHTED = (_L.Conv2D, _L.Dense)
# Layers whose output channel c depends only on input channel c (of each input).
_CHANNEL_WISE = (
    _L.BatchNormalization, _L.ReLU, _L.LeakyReLU, _L.ELU, _L.Activation,
    _L.Dropout, _L.SpatialDropout2D, _L.GaussianNoise, _L.GaussianDropout,
    _L.MaxPooling2D, _L.AveragePooling2D, _L.GlobalAveragePooling2D, _L.GlobalMaxPooling2D,
    _L.ZeroPadding2D, _L.Cropping2D, _L.UpSampling2D,
    _L.Add, _L.Subtract, _L.Multiply, _L.Average, _L.Maximum, _L.Minimum)
_MIXING_ACTIVATIONS = ("softmax", "log_softmax")
# TFOpLambda functions that are channel-wise when their other operands are scalars.
_ELEMENTWISE_OPS = ("__operators__.add", "math.add", "math.subtract", "math.multiply",
                    "math.truediv", "nn.relu6", "math.sigmoid", "nn.silu")


class Layout(typing.NamedTuple):
    """How a layer maps the channels of its inputs to its output."""
    kind: str  # 'weighted' (Conv2D/Dense), 'channel_wise', 'depthwise' (DepthwiseConv2D,
    # depth multiplier 1: channel c from channel c), 'reshape' (keeping the last axis, as
    # the (C,) -> (1, 1, C) of a squeeze-and-excitation), 'permute', 'concat', 'pad'
    # (ZeroPadding2D along the channel axis) or 'opaque' (no known mapping: Flatten, ...)
    axis: int  # the channel axis of its output, from the end (-1 = last; Permute moves it)


def per_channel(units, axis=-1):
    """Bool per channel along `axis`: is any of its units set?"""
    units = np.moveaxis(units, axis, -1)
    return units.reshape(-1, units.shape[-1]).any(axis=0)


def kernel_view(kernel):
    """Kernel as (spatial..., inputs, outputs) with the input axis second to last."""
    return kernel if kernel.ndim == 4 else kernel.reshape(1, 1, *kernel.shape)


def connections(kernel):
    """(inputs, outputs) bool: does a non-zero weight join input channel i to output
    channel o? All that liveness reads of a kernel, a ninth of a 3x3 convolution's."""
    return (kernel_view(kernel) != 0).any(axis=(0, 1))


def _read_from_kernel(layer):
    """Is `layer` (wrapped or not) a Conv2D/Dense whose kernel maps last-axis input channels
    to last-axis outputs (ungrouped, channels last), so its liveness follows the kernel?"""
    inner = wrappers.unwrap(layer)
    if not isinstance(inner, wrappers.PRUNABLE_LAYERS):
        return False
    config = inner.get_config()
    return (config.get("groups", 1) == 1
            and config.get("data_format", "channels_last") == "channels_last")


def _inbound(entry):
    """[(inbound layer name, node, tensor, call kwargs)] of a layer's config entry. A node
    called with constants (a TFOpLambda's `x + 3.0`) is saved as one such item, not a
    list of them."""
    if not entry["inbound_nodes"]:
        return []
    node = entry["inbound_nodes"][0]
    return [node] if isinstance(node[0], str) else node


def _constants(entry):
    """The constant arguments a TFOpLambda's node was called with (the 3.0 of `x + 3.0`);
    other layers take only their input tensors."""
    if entry["class_name"] != "TFOpLambda":
        return {}
    return {key: value for key, value in _inbound(entry)[0][3].items() if key != "name"}


def _call(layer, inputs, constants):
    """`layer` on probe `inputs` in inference mode, with its node's `constants`."""
    if type(layer).__name__ == "TFOpLambda":  # a TensorFlow function: no training flag
        return layer(inputs, **constants)
    return layer(inputs, training=False)


def _zero_response(layer):
    """Units of `layer`'s output that are non-zero when every input is zero (a bias through
    the activation, a BN shift). Wrapped layers are called unwrapped: calling a pruning
    wrapper would apply its mask to the weights."""
    zeros = tf.nest.map_structure(lambda t: tf.zeros((1, *t.shape[1:])), layer.input)
    return wrappers.unwrap(layer)(zeros, training=False).numpy()[0] != 0


def _forward_probe(layer, inputs_alive, constants):
    """Units of `layer`'s output that may carry signal, given its inputs' live units.

    The probe is zero on dead units and random on live ones, once positive and once
    negative (a batch of two), since one sign can hide a unit: a Minimum with a dead
    input is zero on positive values, a ReLU on negative ones."""
    rng = np.random.default_rng(0)
    probes = []
    for alive in inputs_alive:
        values = rng.uniform(1.0, 2.0, alive.shape) * alive
        probes.append(tf.constant(np.stack([values, -values]), tf.float32))
    result = _call(layer, probes if len(probes) > 1 else probes[0], constants)
    return (result.numpy() != 0).any(axis=0)


def _backward_probe(layer, inputs_alive, reads, constants):
    """Per input of `layer`: the units its output units `reads` depend on (by gradient).

    The probe is zero on dead units, as they are: a squeeze-and-excitation gate's
    channel is not read where the block's channel it multiplies is dead."""
    rng = np.random.default_rng(0)
    probes = [tf.constant(rng.uniform(1.0, 2.0, (1, *alive.shape)) * alive, tf.float32)
              for alive in inputs_alive]
    with tf.GradientTape() as tape:
        tape.watch(probes)
        result = _call(layer, probes if len(probes) > 1 else probes[0], constants)
        total = tf.reduce_sum(result * tf.constant(reads[None], tf.float32))
    return [np.abs(g.numpy()[0]) > 0 for g in tape.gradient(total, probes)]


def _is_channel_wise(layer, constants):
    """Does `layer` map channel c of each input to channel c of its output alone?"""
    config = layer.get_config()
    if type(layer) is _L.Rescaling:
        return all(np.ndim(config[key]) == 0 for key in ("scale", "offset"))
    if type(layer).__name__ == "TFOpLambda":
        return (config["function"] in _ELEMENTWISE_OPS
                and all(np.ndim(value) == 0 for value in constants.values()))
    return type(layer) in _CHANNEL_WISE


def _kind(layer, input_axes, constants):
    """The Layout kind of `layer`, given its inputs' channel axes and its node's constants."""
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
    if type(layer) is _L.DepthwiseConv2D:
        return "depthwise" if config["depth_multiplier"] == 1 else "opaque"
    if type(layer) is _L.Reshape:
        kept_last = layer.input.shape[-1] == layer.output.shape[-1]
        return "reshape" if kept_last and -1 not in config["target_shape"] else "opaque"
    if type(layer) is _L.Concatenate:
        return "concat" if config["axis"] in last else "opaque"
    if type(layer) is _L.BatchNormalization:
        axes = np.ravel(config["axis"])
        return "channel_wise" if len(axes) == 1 and axes[0] in last else "opaque"
    return "channel_wise" if _is_channel_wise(layer, constants) else "opaque"


class ChannelGraph:
    """A functional model's layers in graph order, and the analyses that follow them.

    Liveness is per unit (each layer's output shape without the batch axis), so spatial
    padding and the like stay exact; `per_channel` reduces it to channels.
    """

    def __init__(self, model, exact_norms=False):
        config = model.get_config()
        # [(layer, [inbound layer names])] in graph order; the layers the output comes from.
        self.nodes = [(model.get_layer(entry["name"]), [item[0] for item in _inbound(entry)])
                      for entry in config["layers"]]
        self.outputs = [output[0] for output in config["output_layers"]]
        self._constants = {entry["name"]: _constants(entry) for entry in config["layers"]}
        self.exact_norms = exact_norms
        self._from_kernel = {layer.name for layer, _ in self.nodes if _read_from_kernel(layer)}
        self._zero_responses = {
            layer.name: _zero_response(layer) for layer, _ in self.nodes
            if layer.name in self._from_kernel
            or (exact_norms and isinstance(layer, _NORMS))}
        self._last_probes = {}  # (layer name, probe): (its arguments' bytes, its result)

    def _probed(self, probe, layer, *units):
        """`probe`(layer, *units, constants), reusing the layer's last result for the same
        units: a mask search settles a network some 25 times, two passes each, and most
        layers see the liveness they saw the time before (a probe is a Keras call)."""
        key = b"".join(np.packbits(u).tobytes() + bytes(str(u.shape), "ascii")
                       for u in tf.nest.flatten(units))
        last = self._last_probes.get((layer.name, probe))
        if last is None or last[0] != key:
            last = key, probe(layer, *units, self._constants[layer.name])
            for array in tf.nest.flatten(last[1]):
                array.setflags(write=False)  # shared by the calls that reuse it
            self._last_probes[layer.name, probe] = last
        return last[1]

    def kernels(self):
        """{layer name: kernel} of the layers read from their kernels, as the model holds them."""
        return {layer.name: wrappers.unwrap(layer).kernel.numpy()
                for layer, _ in self.nodes if layer.name in self._from_kernel}

    def layout(self):
        """{layer name: Layout}, for rebuilding the model with fewer channels."""
        layout = {}
        for layer, inbound in self.nodes:
            kind = _kind(layer, [layout[name].axis for name in inbound],
                         self._constants[layer.name])
            axis = layout[inbound[0]].axis if kind == "pad" else -1
            if kind == "permute":  # dims number the non-batch axes of the input from 1
                rank = len(layer.output.shape)
                dims = list(layer.get_config()["dims"])
                axis = dims.index(layout[inbound[0]].axis + rank) + 1 - rank
            layout[layer.name] = Layout(kind, axis)
        return layout

    def alive(self, kernels):
        """{layer name: bool array of its output}: units that may carry signal (forward).

        `kernels`: {layer name: kernel} for the layers read from their kernels (masked
        ones during the mask search, `self.kernels()` for the model as it is).
        """
        alive = {}
        for layer, inbound in self.nodes:
            if isinstance(layer, tf.keras.layers.InputLayer):
                alive[layer.name] = np.ones(layer.get_config()["batch_input_shape"][1:], bool)
            elif layer.name in self._from_kernel:
                joined = connections(kernels[layer.name])
                reached = joined[per_channel(alive[inbound[0]])].any(axis=0)
                alive[layer.name] = self._zero_responses[layer.name] | reached
            elif isinstance(layer, _NORMS):
                alive[layer.name] = alive[inbound[0]]
                if self.exact_norms:
                    alive[layer.name] = alive[layer.name] | self._zero_responses[layer.name]
            else:
                alive[layer.name] = self._probed(_forward_probe, layer,
                                                 [alive[name] for name in inbound])
        return alive

    def used(self, kernels, alive):
        """{layer name: bool array of its output}: units some path to the output reads
        (backward), given the forward `alive` of the same `kernels`."""
        used = {name: np.zeros_like(units) for name, units in alive.items()}
        for name in self.outputs:
            used[name] = np.ones_like(alive[name])
        for layer, inbound in reversed(self.nodes):
            if not inbound:
                continue
            reads = used[layer.name]
            if layer.name in self._from_kernel:
                needed = connections(kernels[layer.name])[:, per_channel(reads)].any(axis=1)
                contributions = [np.broadcast_to(needed, alive[inbound[0]].shape)]
            elif isinstance(layer, _NORMS) and not self.exact_norms:
                contributions = [reads]
            else:
                contributions = self._probed(_backward_probe, layer,
                                             [alive[name] for name in inbound], reads)
            for name, contribution in zip(inbound, contributions):
                used[name] = used[name] | contribution
        return used
