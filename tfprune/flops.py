"""Multiply-accumulates per image of a network's Conv2D, DepthwiseConv2D and Dense layers.

The cost that pruning changes: BatchNorm folds into the preceding conv on export, and
activations, pooling and biases are small next to the products. The count is dense, as
runtimes compute: a physically shrunk network costs less, zeros in a kernel do not.

Counting with an `output_tile` gives what a runtime computes that produces a layer's
output channels in tiles of that many: XNNPACK's float convolutions and matmuls on this
repository's x86 machine compute 16 at a time, so a conv with 1 filter takes as long as
one with 16 (`python -m tfprune.bench`, P5 tile). The speed-up of a network pruned to
narrow layers follows this count, not the nominal one.
"""
import math

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import wrappers


def macs(model, output_tile=1):
    """Multiply-accumulates of one forward pass on one image.

    Each kernel weight is used once per output position: a Conv2D's H_out x W_out, a
    Dense's leading output axes (1 after global pooling). Output shapes come from the
    graph, so the model needs a fixed input size. `output_tile` > 1 rounds each layer's
    output channels up to a multiple of it.
    """
    total = 0
    for node, shape in _kernel_shapes(model):
        outputs = shape[-1]
        weights = shape.num_elements() // outputs * math.ceil(outputs / output_tile) * output_tile
        total += int(np.prod(node.output.shape[1:-1])) * weights
    return total


def _kernel_shapes(model):
    """(layer, kernel shape as (spatial..., inputs, outputs)) of the layers that multiply:
    a depthwise kernel (kh, kw, C, M) has C*M outputs, each reading kh*kw inputs."""
    result = [(node, wrappers.unwrap(node).kernel.shape)
              for node in wrappers.prunable_nodes(model)]
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
            kh, kw, channels, multiplier = layer.depthwise_kernel.shape
            result.append((layer, tf.TensorShape([kh, kw, 1, channels * multiplier])))
    return result
