"""Multiply-accumulates per image of a network's Conv2D and Dense layers.

The cost that pruning changes: BatchNorm folds into the preceding conv on export, and
activations, pooling and biases are small next to the products. Counting only the
non-zero kernel weights gives what an unstructured (sparse) network would cost if
hardware skipped every zero; a physically shrunk network costs its dense count.
"""
import numpy as np

from tfprune import wrappers


def macs(model, nonzero_only=False):
    """Multiply-accumulates of one forward pass on one image.

    Each kernel weight is used once per output position: a Conv2D's H_out x W_out, a
    Dense's leading output axes (1 after global pooling). Output shapes come from the
    graph, so the model needs a fixed input size.
    """
    total = 0
    for node in wrappers.prunable_nodes(model):
        kernel = wrappers.unwrap(node).kernel.numpy()
        positions = int(np.prod(node.output.shape[1:-1]))
        weights = np.count_nonzero(kernel) if nonzero_only else kernel.size
        total += positions * int(weights)
    return total
