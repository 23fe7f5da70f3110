"""Meeting a keep budget: every method has one knob (a keep count, a filter fraction,
PFP's epsilon), and a bisection on it finds masks that keep the budget once dead
weights are removed (tfprune.structure), counting the BatchNorm parameters of dead
channels as removed. Selection is top-k with ties broken by position, never
`score >= threshold`, so that ties cannot overshoot the budget.
"""
import hashlib

import numpy as np

from tfprune import channels, sensitivity, structure, wrappers
from tfprune.methods.registry import Knob

DELTA_S = 1e-16  # failure probability of the scoring batch and of PFP's bound
# Structured methods keep a multiple of this many filters / input channels per layer (or
# all), so that a shrunk network saves whole SIMD tiles of output channels (XNNPACK
# computes 8 or 16 at a time; 3 kept filters cost as much as 8). 1 = the study's methods.
CHANNEL_MULTIPLE = Knob("channel_multiple", 1, 1, doc="filters/channels kept per layer: a "
                        "multiple of this (8 or 16 for XNNPACK's tiles); 1 = the study's")


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


def top_k_indices(scores, count):
    return np.argsort(-np.asarray(scores), kind="stable")[:count]


def aligned(count, multiple, width):
    """`count` rounded up to a multiple of `multiple`, at most `width` (all of them)."""
    return min(-(-count // multiple) * multiple, width)


def _kept(kernels, masks):
    return sum(int(np.count_nonzero(k * m)) for k, m in zip(kernels, masks))


def search(masks_for, kernels, keep_count, model, low, high, steps=40, integer=False,
           guess=None):
    """Smallest knob in [low, high] whose masks keep >= keep_count weights once dead
    weights are removed (the kept count grows with the knob); returns its masks.
    The BatchNorm parameters of dead channels are zeroed with them (tfprune.structure),
    so they are subtracted from the kept count: the total, not the kernels, meets it.
    A `guess` that keeps exactly keep_count ends the search at once. Knobs that give
    the masks of an earlier one (many do where each step adds a whole tile of channels)
    reuse its settled result instead of settling again."""
    settled, graph = {}, channels.ChannelGraph(model)

    def evaluate(knob):
        masks, thresholds = masks_for(knob)
        key = hashlib.sha1(b"".join(m.tobytes() for m in masks)).digest()
        if key not in settled:
            masks, norm_channels = structure.settle(model, masks, graph)
            settled[key] = masks, (_kept(kernels, masks)
                                   - structure.dead_norm_params(model, norm_channels))
        return settled[key][0], thresholds, settled[key][1]

    if guess is not None:
        first = evaluate(guess)
        if first[2] == keep_count:
            return first[:2]
    best = evaluate(high)
    if best[2] < keep_count:
        return best[:2]
    for _ in range(steps):
        if (high - low <= 1) if integer else (high - low <= 1e-9 * max(abs(high), 1.0)):
            break
        middle = (low + high) // 2 if integer else (low + high) / 2
        candidate = evaluate(middle)
        if candidate[2] >= keep_count:
            high, best = middle, candidate
        else:
            low = middle
        if best[2] == keep_count:
            break
    return best[:2]


def global_top_k(model, keep_count, scores):
    """Masks of the globally largest scores that keep `keep_count` weights after settling."""
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    total = sum(k.size for k in kernels)
    return search(lambda k: top_k_masks(scores, k), kernels, keep_count, model,
                  keep_count - 1, total, integer=True, guess=keep_count)


def scoring_activations(model, images):
    """The prunable layers' inputs on the scoring batch S (its size from DELTA_S)."""
    count = sensitivity.scoring_size(model, DELTA_S, len(images))
    return sensitivity.layer_inputs(model, images[:count])
