"""Pruning methods by name: each turns a network and a keep budget into kernel masks.

A method receives the plain model, the number of prunable (Conv2D/Dense kernel) weights
it may keep, and a scoring batch from the validation split (used by data-informed
methods). It returns one 0/1 mask per prunable kernel and the score threshold of each
(for TF-MOT's summaries). Selection is top-k with a fixed tie-break, never
`score >= threshold`, so that ties cannot overshoot the budget.
"""
import numpy as np

from tfprune import wrappers


def top_k_masks(scores, keep_count):
    """Keep the `keep_count` largest scores over all arrays; ties go to the earlier index."""
    flat = np.concatenate([np.ravel(s) for s in scores])
    keep_count = int(np.clip(keep_count, 0, flat.size))
    order = np.argsort(-flat, kind="stable")
    keep = np.zeros(flat.size, dtype=bool)
    keep[order[:keep_count]] = True
    threshold = float(flat[order[keep_count - 1]]) if keep_count else float("inf")
    masks, start = [], 0
    for score in scores:
        masks.append(keep[start:start + score.size].reshape(score.shape).astype(np.float32))
        start += score.size
    return masks, [threshold] * len(scores)


def weight_thresholding(model, keep_count, scoring_images):
    """WT: score |w|, one global threshold over all prunable kernels (data-free)."""
    del scoring_images
    return top_k_masks([np.abs(k.numpy()) for k in wrappers.prunable_kernels(model)],
                       keep_count)


METHODS = {"wt": weight_thresholding}
