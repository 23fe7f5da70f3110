"""python -m tfprune.bench: speed ratios measured in one process, so machine noise cancels.

P1  training throughput of a network under the pruning wrappers / the same network plain
P4  throughput of evaluating the corruption suite from a warm cache / clean-test
    inference throughput (goal >= 0.8), and the one-time generation cost / one clean pass
Absolute images/s are printed beside each ratio, with the machine; --json writes them.
"""
import os
import platform
import tempfile
import time

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from absl import app, flags, logging

from tfprune import config as config_lib, corruptions, data, distributions, evaluate, models
from tfprune import io as io_lib
from tfprune import train, wrappers

_MODEL = flags.DEFINE_string("model", "resnet20", "Registered model to measure.")
_IMAGES = flags.DEFINE_integer("images", 10000, "Test images per distribution.")
_SETS = flags.DEFINE_integer("sets", 19, "Corrupted sets in the suite (severity 3 each).")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 60, "Training steps per P1 measurement.")
_CIFAR_DIR = flags.DEFINE_string(
    "cifar_dir", "../shared/data/cifar10/cifar-10-batches-bin",
    "CIFAR-10 binary folder for real images; random images where it is absent.")
_JSON = flags.DEFINE_string("json", "", "Also write the figures to this JSON file.")


def _test_images(count):
    if os.path.exists(os.path.join(_CIFAR_DIR.value, "test_batch.bin")):
        config = config_lib.base().data
        config.update(dict(name="cifar10", dir=_CIFAR_DIR.value))
        return data.load(config, 0).test_images[:count], "CIFAR-10 test set"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), "random images"


def _timed(job):
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def bench_suite(model, images, sets, batch_size=500):
    """P4: clean inference vs. the corruption suite read from a warm cache."""
    names = corruptions.NAMES[:sets]
    predict = lambda x: evaluate.predict_logits(model, x, batch_size)  # noqa: E731
    predict(images[:batch_size])  # trace once
    clean_seconds = min(_timed(lambda: predict(images)) for _ in range(2))
    dataset = data.Dataset("bench", "", images, None, images, None, images,
                           np.zeros(len(images), np.int32), 10, (0,) * 3, (1,) * 3)
    with tempfile.TemporaryDirectory() as cache:
        generation_seconds = _timed(lambda: [distributions._generated(
            dataset, name, 3, 0, cache, lambda _: None) for name in names])
        suite_seconds = _timed(lambda: [predict(distributions._generated(
            dataset, name, 3, 0, cache, lambda _: None).images) for name in names])
    clean_rate = len(images) / clean_seconds
    suite_rate = len(images) * len(names) / suite_seconds
    return dict(clean_images_per_s=clean_rate, suite_images_per_s=suite_rate,
                suite_over_clean=suite_rate / clean_rate,
                generation_seconds=generation_seconds,
                generation_over_clean_pass=generation_seconds / clean_seconds,
                generation_over_suite_pass=generation_seconds / (clean_seconds * len(names)))


def bench_wrapper_overhead(model, images, labels, steps, batch_size=128):
    """P1: images/s of `fit` under the pruning wrappers vs. plain, interleaved, medians."""
    config = config_lib.base()
    config.train.batch_size = batch_size
    batches = data.train_pipeline(images, labels, batch_size, "crop_flip", 0)
    wrapped = wrappers.wrap(model, wrappers.one_shot_schedule(0.5))
    for network in (model, wrapped):
        train.compile_model(network, config.train, 1, steps)
    rates = {"plain": [], "wrapped": []}
    for _ in range(3):
        for name, network in (("plain", model), ("wrapped", wrapped)):
            callbacks = [tfmot.sparsity.keras.UpdatePruningStep()] if name == "wrapped" else []
            network.fit(batches, epochs=1, steps_per_epoch=2, verbose=0, callbacks=callbacks)
            seconds = _timed(lambda: network.fit(batches, epochs=1, steps_per_epoch=steps,
                                                 verbose=0, callbacks=callbacks))
            rates[name].append(steps * batch_size / seconds)
    plain, wrapped_rate = (float(np.median(rates[k])) for k in ("plain", "wrapped"))
    return dict(plain_images_per_s=plain, wrapped_images_per_s=wrapped_rate,
                wrapped_over_plain=wrapped_rate / plain)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    images, source = _test_images(_IMAGES.value)
    labels = np.random.default_rng(0).integers(0, 10, len(images)).astype(np.int32)
    model = models.build(_MODEL.value, (32, 32, 3), 10, (125.0,) * 3, (63.0,) * 3)
    machine = dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                   tensorflow=tf.__version__)
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, TF {machine['tensorflow']}; "
          f"model {_MODEL.value}; {len(images)} {source}")
    figures = dict(machine=machine, model=_MODEL.value)
    figures["P1"] = bench_wrapper_overhead(model, images, labels, _TRAIN_STEPS.value)
    print("P1 training under pruning wrappers / plain: {wrapped_over_plain:.3f} "
          "({wrapped_images_per_s:.0f} vs {plain_images_per_s:.0f} images/s; goal >= 0.97)"
          .format(**figures["P1"]))
    figures["P4"] = bench_suite(model, images, _SETS.value)
    print("P4 corruption suite (warm cache) / clean inference: {suite_over_clean:.3f} "
          "({suite_images_per_s:.0f} vs {clean_images_per_s:.0f} images/s; goal >= 0.8)"
          .format(**figures["P4"]))
    print("P4 one-time generation / one clean pass: {generation_over_clean_pass:.2f} "
          "(per set: {generation_over_suite_pass:.2f}; {generation_seconds:.1f} s for the "
          "suite)".format(**figures["P4"]))
    if _JSON.value:
        io_lib.write_json(_JSON.value, figures)


if __name__ == "__main__":
    app.run(main)
