"""Pruning methods by name: each turns a network and a keep budget into kernel masks.

A method receives the model, the number of prunable (Conv2D/Dense kernel) weights it
may keep, and the validation images (data-informed methods draw their scoring batch S
from them). It returns one 0/1 mask per prunable kernel and a score threshold per layer
(for TF-MOT's summaries). Every method has one knob (a keep count, a filter fraction,
PFP's epsilon); a bisection on it meets the budget after dead weights are removed
(tfprune.structure), counting the BatchNorm parameters of dead channels as removed.
Selection is top-k with ties broken by position, never
`score >= threshold`, so that ties cannot overshoot the budget.

  wt    weight thresholding: |w|, one global threshold (unstructured, data-free)
  sipp  sensitivity-informed provable pruning: global top-k of SiPP sensitivities
        (unstructured, data-informed)
  ft    filter thresholding: L1 norm of each output filter, the same fraction kept in
        every layer, the classifier's outputs never pruned (structured, data-free)
  pfp   provable filter pruning: input channels by sensitivity, per-layer budgets from
        one global epsilon (structured, data-informed)

The structured methods take `channel_multiple` k (config prune.channel_multiple): each
layer keeps a multiple of k filters (FT) or input channels (PFP), or all of them, so a
physically shrunk network saves whole SIMD tiles of output channels (XNNPACK computes
8 or 16 at a time; 3 kept filters cost as much as 8). k = 1 is the study's methods.
"""
import functools
import hashlib
import math

import numpy as np

from tfprune import sensitivity, structure, wrappers

DELTA_S = 1e-16  # failure probability of the scoring batch and of PFP's bound
C_PFP = 3.0


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


def _top_k_indices(scores, count):
    return np.argsort(-np.asarray(scores), kind="stable")[:count]


def _aligned(count, multiple, width):
    """`count` rounded up to a multiple of `multiple`, at most `width` (all of them)."""
    return min(-(-count // multiple) * multiple, width)


def _kept(kernels, masks):
    return sum(int(np.count_nonzero(k * m)) for k, m in zip(kernels, masks))


def _search(masks_for, kernels, keep_count, model, low, high, steps=40, integer=False,
            guess=None):
    """Smallest knob in [low, high] whose masks keep >= keep_count weights once dead
    weights are removed (the kept count grows with the knob); returns its masks.
    The BatchNorm parameters of dead channels are zeroed with them (tfprune.structure),
    so they are subtracted from the kept count: the total, not the kernels, meets it.
    A `guess` that keeps exactly keep_count ends the search at once. Knobs that give
    the masks of an earlier one (many do where each step adds a whole tile of channels)
    reuse its settled result instead of settling again."""
    settled = {}

    def evaluate(knob):
        masks, thresholds = masks_for(knob)
        key = hashlib.sha1(b"".join(m.tobytes() for m in masks)).digest()
        if key not in settled:
            masks, norm_channels = structure.settle(model, masks)
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


def _global_top_k(model, keep_count, scores):
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    total = sum(k.size for k in kernels)
    return _search(lambda k: top_k_masks(scores, k), kernels, keep_count, model,
                   keep_count - 1, total, integer=True, guess=keep_count)


def _scoring_activations(model, images):
    count = sensitivity.scoring_size(model, DELTA_S, len(images))
    return sensitivity.layer_inputs(model, images[:count])


def weight_thresholding(model, keep_count, scoring_images):
    """WT: score |w|, one global threshold over all prunable kernels (data-free)."""
    del scoring_images
    return _global_top_k(model, keep_count,
                         [np.abs(k.numpy()) for k in wrappers.prunable_kernels(model)])


def sipp(model, keep_count, scoring_images):
    """SiPP: global top-k of the weights' sensitivities on the scoring batch."""
    layers = wrappers.prunable_layers(model)
    activations = _scoring_activations(model, scoring_images)
    scores = [sensitivity.sipp_scores(layer, layer.kernel.numpy(), a)
              for layer, a in zip(layers, activations)]
    return _global_top_k(model, keep_count, scores)


def _filter_masks(kernels, keep_filters):
    """Masks keeping, per layer, the given output filter indices."""
    masks = []
    for kernel, kept in zip(kernels, keep_filters):
        mask = np.zeros_like(kernel, dtype=np.float32)
        mask[..., kept] = 1.0
        masks.append(mask)
    return masks


def filter_thresholding(model, keep_count, scoring_images, channel_multiple=1):
    """FT: keep the same fraction of filters (largest L1 norm) in every layer; the
    classifier's outputs are never pruned.

    Each filter's rank in its layer, as a fraction of the layer's filters, orders all
    filters: keeping a prefix of that order keeps the same fraction of every layer to
    within one filter, and lets the search meet the budget one filter at a time. Each
    layer's count is then rounded up to a multiple of `channel_multiple` with its next
    filters by L1 norm, so the search steps by that many filters of one layer.
    """
    del scoring_images
    kernels = [k.numpy() for k in wrappers.prunable_kernels(model)]
    norms = [np.abs(k).reshape(-1, k.shape[-1]).sum(axis=0) for k in kernels]
    ranked = [_top_k_indices(n, len(n)) for n in norms]  # each layer's filters, largest first
    order = sorted(((rank + 1) / len(n), layer, rank)
                   for layer, n in enumerate(norms[:-1]) for rank in range(len(n)))

    def masks_for(count):
        counts = [1] * len(norms)  # every layer keeps one
        for _, layer, rank in order[:count]:
            counts[layer] = rank + 1
        keep = [ranked[layer][:_aligned(c, channel_multiple, len(ranked[layer]))]
                for layer, c in enumerate(counts)]
        keep[-1] = ranked[-1]  # the classifier's outputs
        return _filter_masks(kernels, keep), [0.0] * len(kernels)

    return _search(masks_for, kernels, keep_count, model, 0, len(order), integer=True)


def provable_filter_pruning(model, keep_count, scoring_images, channel_multiple=1):
    """PFP: per layer, keep the top-m input channels by sensitivity, m from the
    layer's sampling bound at one global epsilon (no reweighting), rounded up to a
    multiple of `channel_multiple` (the input channels are the previous layer's filters)."""
    layers = wrappers.prunable_layers(model)
    kernels = [layer.kernel.numpy() for layer in layers]
    activations = _scoring_activations(model, scoring_images)
    first = wrappers.prunable_nodes(model)[0]
    bounds = []
    for node, layer, kernel, inputs in zip(wrappers.prunable_nodes(model), layers, kernels,
                                           activations):
        if node is first:  # the image channels are not pruned
            bounds.append(None)
            continue
        scores = sensitivity.pfp_channel_scores(layer, kernel, inputs)
        kernel_size = int(np.prod(kernel.shape[:-2])) if kernel.ndim == 4 else 1
        alpha = 2 * C_PFP * math.log(8 * (sensitivity.patch_count(layer) + 1) * kernel_size
                                     / DELTA_S)
        bounds.append((scores, alpha))

    def masks_for(log_epsilon):
        epsilon = math.exp(log_epsilon)
        masks = []
        for kernel, bound in zip(kernels, bounds):
            mask = np.ones_like(kernel, dtype=np.float32)
            if bound is not None:
                scores, alpha = bound
                total = scores.sum()
                kept = len(scores)
                if total > 0:
                    samples = math.ceil(3 * (6 + 2 * epsilon) * alpha * total / epsilon ** 2)
                    probabilities = scores / total
                    expected = float(np.sum(1 - (1 - probabilities) ** min(samples, 1e300)))
                    kept = _aligned(max(1, math.ceil(expected - 1e-9)), channel_multiple,
                                    len(scores))
                channels = np.zeros(len(scores), bool)
                channels[_top_k_indices(scores, kept)] = True
                mask[..., ~channels, :] = 0.0
            masks.append(mask)
        return masks, [0.0] * len(kernels)

    # A larger epsilon keeps fewer channels: search over -log(epsilon).
    masks, thresholds = _search(lambda knob: masks_for(-knob), kernels, keep_count, model,
                                -math.log(1e8), -math.log(1e-8))
    return masks, thresholds


METHODS = {"wt": weight_thresholding, "sipp": sipp, "ft": filter_thresholding,
           "pfp": provable_filter_pruning}
STRUCTURED = ("ft", "pfp")


def get(name, channel_multiple=1):
    """METHODS[name] as method(model, keep_count, scoring_images); the structured ones
    keep multiples of `channel_multiple` channels per layer."""
    if name in STRUCTURED:
        return functools.partial(METHODS[name], channel_multiple=channel_multiple)
    return METHODS[name]
