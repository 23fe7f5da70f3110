"""What a network (Keras or TFLite) outputs on the test distributions, and under noise.

Only the parent keeps its softmax probabilities; every other network is compared to
them when it is evaluated, so stored outputs stay small for the full suite.
"""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import metrics, storage


def predict_logits(model, images, batch_size):
    batches = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
    batches = batches.map(lambda x: tf.cast(x, tf.float32)).prefetch(tf.data.AUTOTUNE)
    return model.predict(batches, verbose=0)


def logits_with_batch_statistics(model, images, batch_size):
    """The logits with every BatchNormalization normalising by its batch's statistics, not
    its moving ones (training mode, dropout on too, on a copy, so the moving statistics
    stay): a saved model whose moving statistics do not fit its weights is at chance in
    inference mode but not here."""
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return np.concatenate([copy(tf.cast(images[start:start + batch_size], tf.float32),
                                training=True).numpy()
                           for start in range(0, len(images), batch_size)])


def outputs(logits_of, distributions, reference=None):
    """Per distribution `d`: `d:pred` (top-1 labels) and `d:<key>` of every output metric
    (metrics.OUTPUT_METRICS); those versus the parent given the `reference` (parent)
    network's outputs, else (the parent itself) its probabilities `d:prob`.

    `logits_of(images)` runs the network; `distributions` maps names to
    `tfprune.distributions.Distribution`.
    """
    result = {}
    for name, distribution in distributions.items():
        probabilities = metrics.softmax(logits_of(distribution.images))
        result[f"{name}:pred"] = probabilities.argmax(axis=-1).astype(np.int32)
        for metric in metrics.OUTPUT_METRICS:
            if not metric.versus_parent:
                value = metric.compute(probabilities, distribution.labels)
            elif reference is not None:
                value = metric.compute(probabilities, reference[f"{name}:prob"])
            else:
                continue
            result[f"{name}:{metric.key}"] = np.float64(value)
        if reference is None:
            result[f"{name}:prob"] = probabilities.astype(np.float32)
    return result


def required_keys(distribution_names, versus_parent, noise):
    """The keys `outputs` (and `noise_predictions`, with `noise`) store for a network
    evaluated `versus_parent` or not: a stored file lacking one (written before a metric
    was added) is computed again."""
    keys = []
    for name in distribution_names:
        keys.append(f"{name}:pred")
        keys += [f"{name}:{m.key}" for m in metrics.OUTPUT_METRICS
                 if versus_parent or not m.versus_parent]
        if not versus_parent:
            keys.append(f"{name}:prob")
    return keys + (["noise:pred"] if noise else [])


def noise_levels(eval_config):
    return np.linspace(0.0, eval_config.noise_eps_max, eval_config.noise_steps)


def noise_predictions(logits_of, images, std, eval_config, seed):
    """Top-1 labels (eps, draw, image) under uniform noise in [-eps, eps] added to the
    normalised input, i.e. eps * std per channel on the pixel scale (not clipped, as the
    study). The draws depend on `seed` only, so every network sees the same inputs."""
    images = images[: eval_config.noise_images].astype(np.float32)
    rng = np.random.default_rng(seed)
    unit = rng.uniform(-1.0, 1.0, (eval_config.noise_draws, *images.shape)).astype(np.float32)
    unit *= np.asarray(std, np.float32)
    levels = []
    for eps in noise_levels(eval_config):
        noisy = (images[None] + np.float32(eps) * unit).reshape(-1, *images.shape[1:])
        levels.append(np.argmax(logits_of(noisy), axis=-1).reshape(unit.shape[:2]))
    return np.asarray(levels, dtype=np.int16)


def cached_outputs(path, compute, required, sources, log=print):
    """The stored outputs at `path` if they hold all `required` keys and were derived from
    `sources` ({what: digest}, e.g. {"checkpoint": storage.file_digest of it}), else
    computed and stored with them: a replaced checkpoint or file is never scored by
    another's outputs."""
    stored = storage.load_arrays(path, required)
    if stored is not None:
        outputs, recorded = storage.split_sources(stored)
        if recorded == sources:
            return outputs
        changed = sorted(k for k in set(sources) | set(recorded)
                         if sources.get(k) != recorded.get(k))
        why = (f"{' and '.join(changed)} changed since it was stored" if recorded else
               "it does not record what it was derived from")
        log(f"{path}: computed again ({why})")
    elif storage.exists(path):
        log(f"{path}: computed again (unreadable, or written before a metric was added)")
    outputs = compute()
    storage.save_arrays(path, outputs, sources)
    return outputs
