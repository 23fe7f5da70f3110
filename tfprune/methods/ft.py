"""FT, filter thresholding: keep the same fraction of filters (largest L1 norm) in every
layer; the classifier's outputs are never pruned (structured, data-free)."""
import numpy as np

from tfprune import wrappers
from tfprune.methods import budget


def _filter_masks(kernels, keep_filters):
    """Masks keeping, per layer, the given output filter indices."""
    masks = []
    for kernel, kept in zip(kernels, keep_filters):
        mask = np.zeros_like(kernel, dtype=np.float32)
        mask[..., kept] = 1.0
        masks.append(mask)
    return masks


def filter_thresholding(model, target, channel_multiple=1):
    """Each filter's rank in its layer, as a fraction of the layer's non-zero filters,
    orders those filters: keeping a prefix of that order keeps the same fraction of every
    layer's remaining filters to within one filter (as the reference's allocator does,
    so a pruned network is not pruned again through its dead filters), and lets the
    search meet the budget one filter at a time. Each layer's count is then rounded up
    to a multiple of `channel_multiple` with its next filters by L1 norm, so the search
    steps by that many filters of one layer.
    """
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    norms = [np.abs(k).reshape(-1, k.shape[-1]).sum(axis=0) for k in kernels]
    ranked = [budget.top_k_indices(n, len(n)) for n in norms]  # each layer's, largest first
    alive = [max(1, int(np.count_nonzero(n))) for n in norms]
    order = sorted(((rank + 1) / alive[layer], layer, rank)
                   for layer in range(len(norms) - 1) for rank in range(alive[layer]))

    def masks_for(count):
        counts = [1] * len(norms)  # every layer keeps one
        for _, layer, rank in order[:count]:
            counts[layer] = rank + 1
        keep = [ranked[layer][:budget.aligned(c, channel_multiple, len(ranked[layer]))]
                for layer, c in enumerate(counts)]
        keep[-1] = ranked[-1]  # the classifier's outputs
        return _filter_masks(kernels, keep), [0.0] * len(kernels)

    return budget.search(masks_for, target, 0, len(order), integer=True)
