"""PFP, provable filter pruning: input channels by sensitivity, per-layer budgets from
one global epsilon (structured, data-informed; tfprune.sensitivity)."""
import math

import numpy as np

from tfprune import sensitivity, wrappers
from tfprune.methods import budget

C_PFP = 3.0


def provable_filter_pruning(model, target, scoring_images, channel_multiple=1):
    """Per layer, keep the top-m input channels by sensitivity, m from the layer's
    sampling bound at one global epsilon (no reweighting), rounded up to a multiple of
    `channel_multiple` (the input channels are the previous layer's filters). The first
    layer's image channels are pruned alike, as the reference's allocator does."""
    layers = wrappers.prunable_layers(model)
    kernels = [layer.kernel.numpy() for layer in layers]
    activations = sensitivity.layer_inputs(model, scoring_images)
    bounds = []
    for layer, kernel, inputs in zip(layers, kernels, activations):
        scores = sensitivity.pfp_channel_scores(layer, kernel, inputs)
        kernel_size = int(np.prod(kernel.shape[:-2])) if kernel.ndim == 4 else 1
        alpha = 2 * C_PFP * math.log(8 * (sensitivity.patch_count(layer) + 1) * kernel_size
                                     / budget.DELTA_S)
        bounds.append((scores, alpha))

    def masks_for(log_epsilon):
        epsilon = math.exp(log_epsilon)
        masks = []
        for kernel, (scores, alpha) in zip(kernels, bounds):
            mask = np.ones_like(kernel, dtype=np.float32)
            total = scores.sum()
            kept = len(scores)
            if total > 0:
                samples = math.ceil(3 * (6 + 2 * epsilon) * alpha * total / epsilon ** 2)
                probabilities = scores / total
                expected = float(np.sum(1 - (1 - probabilities) ** min(samples, 1e300)))
                kept = budget.aligned(max(1, math.ceil(expected - 1e-9)), channel_multiple,
                                      len(scores))
            channels = np.zeros(len(scores), bool)
            channels[budget.top_k_indices(scores, kept)] = True
            mask[..., ~channels, :] = 0.0
            masks.append(mask)
        return masks, [0.0] * len(kernels)

    # A larger epsilon keeps fewer channels: search over -log(epsilon).
    return budget.search(lambda knob: masks_for(-knob), target, -math.log(1e8),
                         -math.log(1e-8))
