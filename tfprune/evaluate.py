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

from tfprune import corruptions
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


def predictions(model, distributions, batch_size):
    """{distribution: top-1 labels} of a Keras model."""
    return {name: np.argmax(predict_logits(model, images, batch_size), axis=-1).astype(np.int32)
            for name, images in distributions.items()}
