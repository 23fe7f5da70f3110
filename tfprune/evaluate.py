"""Test distributions (nominal and corrupted) and the predictions of a network on them.

Corrupted copies of the test set are generated once per (data set, corruption,
severity, seed) and cached as .npy files, so every network of a run, and every later
run, reads the same images.
"""
import hashlib
import os

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import corruptions, metrics
from tfprune import io as io_lib

NOMINAL = "nominal"


def distribution_names(eval_config):
    return [NOMINAL] + [f"{c}_{s}" for c in eval_config.corruptions for s in eval_config.severities]


def test_distributions(dataset, eval_config, cache_dir, log=print):
    """{name: uint8 images}, all labelled by the test labels; corruptions from the cache."""
    fingerprint = hashlib.sha1(dataset.test_images.tobytes()).hexdigest()[:12]
    distributions = {NOMINAL: dataset.test_images}
    for name in eval_config.corruptions:
        for severity in eval_config.severities:
            path = os.path.join(cache_dir, f"{dataset.name}-{fingerprint}-{name}-{severity}"
                                           f"-seed{eval_config.corruption_seed}.npy")
            images = io_lib.load_array(path, dataset.test_images.shape, np.uint8)
            if images is None:
                log(f"generating {name} severity {severity} (cached at {path})")
                images = corruptions.corrupt(dataset.test_images, name, severity,
                                             eval_config.corruption_seed)
                io_lib.save_array(path, images)
            distributions[f"{name}_{severity}"] = images
    return distributions


def predict_logits(model, images, batch_size):
    batches = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
    batches = batches.map(lambda x: tf.cast(x, tf.float32)).prefetch(tf.data.AUTOTUNE)
    return model.predict(batches, verbose=0)


def outputs(logits_of, distributions, labels, reference=None, keep_probabilities=False):
    """Per distribution `d`: `d:pred` (top-1 labels), `d:ece`, `d:nll` and, given the
    reference network's outputs, `d:l2` and `d:linf` (softmax distances to it).

    `logits_of(images)` runs the network (Keras or TFLite). Only the reference (the
    parent) keeps its probabilities (`d:prob`): the others are compared to it here.
    """
    result = {}
    for name, images in distributions.items():
        probabilities = metrics.softmax(logits_of(images))
        result[f"{name}:pred"] = probabilities.argmax(axis=-1).astype(np.int32)
        result[f"{name}:ece"] = np.float64(metrics.expected_calibration_error(probabilities, labels))
        result[f"{name}:nll"] = np.float64(metrics.negative_log_likelihood(probabilities, labels))
        if reference is not None:
            l2, linf = metrics.output_distances(probabilities, reference[f"{name}:prob"])
            result[f"{name}:l2"], result[f"{name}:linf"] = np.float64(l2), np.float64(linf)
        if keep_probabilities:
            result[f"{name}:prob"] = probabilities.astype(np.float32)
    return result


def cached_outputs(path, compute, distributions):
    """The stored outputs at `path` if they cover `distributions`, else computed and stored."""
    stored = io_lib.load_arrays(path, [f"{name}:pred" for name in distributions])
    if stored is None:
        stored = compute()
        io_lib.save_arrays(path, stored)
    return stored
