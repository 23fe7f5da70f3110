"""Meeting a keep budget: every method has one knob (a keep count, a filter fraction,
PFP's epsilon), and a bisection on it finds masks that keep the budget once a dead-weight
rule (tfprune.structure, config key prune.dead_weights) has settled them. Selection is
top-k with ties broken by position, never `score >= threshold`, so that ties cannot
overshoot the budget.

The tolerance (prune.budget_tolerance) is relative to the network's kept parameters
(the target: the kernel budget plus every other trainable parameter), as the reference
(torchprune's CompressedNet.compress) counts it. 0 is tfprune's rule, the smallest knob
that keeps at least the budget; above 0 the reference's, the first candidate within the
tolerance of the target, else the nearest one tried.
"""
import hashlib
import typing

import numpy as np

from tfprune import sensitivity, wrappers

DELTA_S = 1e-16  # failure probability of the scoring batch and of PFP's bound


class Target(typing.NamedTuple):
    """What a method's masks must meet."""
    keep_count: int  # kernel weights to keep once `rule` has settled the masks
    rule: object  # a tfprune.structure rule bound to the network
    tolerance: float = 0.0  # relative to the network's kept parameters (module docstring)


class Pruned(typing.NamedTuple):
    """A method's result: one 0/1 mask per prunable kernel (tfprune.wrappers order), a
    score threshold per layer for TF-MOT's summaries, and the rule's zeroing of other
    weights (tfprune.structure.Settled: others, held)."""
    masks: list
    thresholds: list
    others: tuple
    held: bool


def apply(model, pruned):
    """Zero in `model` what `pruned` removes: kernels by its masks, the rule's others."""
    for kernel, mask in zip(wrappers.prunable_kernels(model), pruned.masks):
        kernel.assign(kernel * mask)
    for weight, keep in pruned.others:
        weight.assign(weight * keep)


def top_k_masks(scores, keep_count):
    """Keep the `keep_count` largest scores over all arrays; ties go to the earlier index."""
    return ranked(scores)(keep_count)


def ranked(scores):
    """`top_k_masks` of `scores` for any keep count, the scores sorted once: a budget
    search asks for some 25 counts, and sorting VGG16's 15 million scores takes 3 s."""
    flat = np.concatenate([np.ravel(s) for s in scores])
    order = np.argsort(-flat, kind="stable")

    def masks_for(keep_count):
        keep_count = int(np.clip(keep_count, 0, flat.size))
        keep = np.zeros(flat.size, dtype=bool)
        keep[order[:keep_count]] = True
        threshold = float(flat[order[keep_count - 1]]) if keep_count else float("inf")
        masks, start = [], 0
        for score in scores:
            masks.append(keep[start:start + score.size].reshape(score.shape).astype(np.float32))
            start += score.size
        return masks, [threshold] * len(scores)

    return masks_for


def top_k_indices(scores, count):
    return np.argsort(-np.asarray(scores), kind="stable")[:count]


def aligned(count, multiple, width):
    """`count` rounded up to a multiple of `multiple`, at most `width` (all of them)."""
    return min(-(-count // multiple) * multiple, width)


def search(masks_for, target, low, high, steps=40, integer=False, guess=None):
    """Masks for a knob in [low, high] (the kept count grows with it) that meet `target`
    once settled by its rule, by the target's tolerance (module docstring); a Pruned.
    A `guess` that meets it ends the search at once. Knobs that give the masks of an
    earlier one (many do where each step adds a whole tile of channels) reuse its
    settled result instead of settling again."""
    model, keep_count = target.rule.model, target.keep_count
    nonzero = [k.numpy() != 0 for k in wrappers.prunable_kernels(model)]
    others = (sum(w.shape.num_elements() for w in model.trainable_weights)
              - sum(n.size for n in nonzero))
    settled, tried = {}, []

    def evaluate(knob):
        masks, thresholds = masks_for(knob)
        key = hashlib.sha1(b"".join(np.packbits(m != 0).tobytes() for m in masks)).digest()
        if key not in settled:
            result = target.rule.settle(masks)
            kept = sum(int(np.count_nonzero(n & (m != 0)))
                       for n, m in zip(nonzero, result.masks))
            settled[key] = result, kept - result.removed
        result, kept = settled[key]
        tried.append((Pruned(result.masks, thresholds, result.others, result.held), kept))
        return tried[-1]

    def close(kept):
        if target.tolerance == 0:
            return kept == keep_count
        return abs(kept - keep_count) < target.tolerance * (keep_count + others)

    if guess is not None and close(evaluate(guess)[1]):
        return tried[-1][0]
    best = evaluate(high)
    if best[1] < keep_count or close(best[1]):
        return best[0]
    for _ in range(steps):
        if (high - low <= 1) if integer else (high - low <= 1e-9 * max(abs(high), 1.0)):
            break
        middle = (low + high) // 2 if integer else (low + high) / 2
        candidate = evaluate(middle)
        if candidate[1] >= keep_count:
            high, best = middle, candidate
        else:
            low = middle
        if close(candidate[1]):
            return candidate[0]
    if target.tolerance == 0:
        return best[0]
    return min(tried, key=lambda pruned_kept: abs(pruned_kept[1] - keep_count))[0]


def global_top_k(model, target, scores):
    """Masks of the globally largest scores that meet `target` after settling."""
    total = wrappers.prunable_count(model)
    return search(ranked(scores), target, target.keep_count - 1, total,
                  integer=True, guess=target.keep_count)


def scoring_batch(model, images, labels=None):
    """The scoring batch S (its size from DELTA_S): (its images, its labels or None)."""
    count = sensitivity.scoring_size(model, DELTA_S, len(images))
    return images[:count], None if labels is None else labels[:count]
