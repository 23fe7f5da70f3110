"""Data-informed importance scores of SiPP and PFP (deterministic variants, torchprune).

For a layer with kernel W (inputs k, outputs i) and input activations a, split W into
its positive and negative parts and a into a+ and a- (a = a+ - a-). For weight w_ik of
sign s and activation part t at patch p of input x:
    g_ik(x, p) = |w_ik| * a_t,k(x, p) / z_i(x, p),   z_i = sum_k' |w_ik'| a_t,k'(x, p)
over the weights k' of sign s (z <= eps counts as infinite, g = 0). SiPP scores a weight
by the larger of the a+ and a- terms, averaged over patches, maximised over x in S.
PFP scores an input channel by the maximum over x, output filters, kernel positions and
patches. Patches are the conv's receptive fields (tf.image.extract_patches, in the
kernel's (row, column, channel) order); a Dense layer has one patch.
"""
import math

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import wrappers

EPS = float(np.finfo(np.float32).eps)  # the reference's (torchprune: _process_denominator)


def scoring_size(model, delta_s, available):
    """|S| = ceil(3 ln(8 eta* eta / delta_S)), eta the sum and eta* the max of the
    prunable layers' output sizes; at most half of the `available` images."""
    sizes = [int(np.prod(layer.output_shape[1:])) for layer in wrappers.prunable_nodes(model)]
    size = math.ceil(3 * math.log(8 * max(sizes) * sum(sizes) / delta_s))
    return max(1, min(size, available // 2))


def layer_inputs(model, images, batch_size=64):
    """The input activations of every prunable layer on `images` (float pixels)."""
    nodes = wrappers.prunable_nodes(model)
    features = tf.keras.Model(model.inputs, [layer.input for layer in nodes])
    outputs = [[] for _ in nodes]
    for start in range(0, len(images), batch_size):
        batch = features(tf.constant(images[start:start + batch_size], tf.float32),
                         training=False)
        for collected, value in zip(outputs, batch if len(nodes) > 1 else [batch]):
            collected.append(value.numpy())
    return [np.concatenate(o) for o in outputs]


def _patches(layer, activations):
    """(N, P, K) receptive fields of a conv layer, or (N, 1, K) inputs of a Dense layer."""
    if isinstance(layer, tf.keras.layers.Dense):
        return activations.reshape(len(activations), 1, -1)
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
    patches = tf.image.extract_patches(activations, sizes=[1, kh, kw, 1],
                                       strides=[1, sh, sw, 1], rates=[1, dh, dw, 1],
                                       padding=layer.padding.upper()).numpy()
    return patches.reshape(len(activations), -1, patches.shape[-1])


def _terms(kernel, patches):
    """Yield, for each activation part t and weight sign s: (a_t, r_s,t = 1/z_s,t)."""
    for part in (np.maximum(patches, 0), np.maximum(-patches, 0)):
        for sign_weights in (np.maximum(kernel, 0), np.maximum(-kernel, 0)):
            z = part @ sign_weights
            yield part, np.where(z > EPS, 1.0 / np.maximum(z, EPS), 0.0)


def _select_by_sign(kernel, positive, negative):
    return np.abs(kernel) * np.where(kernel > 0, positive, negative)


def sipp_scores(layer, kernel, activations):
    """Per weight: max over x of max over a+/a- of the patch-mean of g."""
    flat = kernel.reshape(-1, kernel.shape[-1])
    best = np.zeros_like(flat)
    for patches in _patches(layer, activations):
        terms = [part.T @ inverse / len(part) for part, inverse in _terms(flat, patches)]
        # order: (a+, W+), (a+, W-), (a-, W+), (a-, W-)
        score = np.maximum(_select_by_sign(flat, terms[0], terms[1]),
                           _select_by_sign(flat, terms[2], terms[3]))
        np.maximum(best, score, out=best)
    return best.reshape(kernel.shape)


def pfp_channel_scores(layer, kernel, activations, chunk=256):
    """Per input channel: max over x, output filters, kernel positions and patches of g."""
    flat = kernel.reshape(-1, kernel.shape[-1])
    best = np.zeros(flat.shape[0])
    for patches in _patches(layer, activations):
        peaks = []
        for part, inverse in _terms(flat, patches):
            peak = np.zeros_like(flat)
            for start in range(0, len(part), chunk):  # max over patches, bounded memory
                products = part[start:start + chunk, :, None] * inverse[start:start + chunk, None]
                np.maximum(peak, products.max(axis=0), out=peak)
            peaks.append(peak)
        score = np.maximum(_select_by_sign(flat, peaks[0], peaks[1]),
                           _select_by_sign(flat, peaks[2], peaks[3]))
        np.maximum(best, score.max(axis=1), out=best)
    return best.reshape(-1, kernel.shape[-2]).max(axis=0)


def patch_count(layer):
    """P, the number of patches (output positions) of a layer."""
    shape = layer.output_shape
    return int(np.prod(shape[1:-1])) if len(shape) > 2 else 1
