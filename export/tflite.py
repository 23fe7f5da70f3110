"""TFLite export of a run's networks in several variants, re-evaluated with ai-edge-litert.

`python -m export.tflite --workdir RUN_DIR [--variants=float32,int8,...|all]` exports and
evaluates the networks of a finished run (its stored config says which); `tfprune.run`
calls the same code when `export.tflite` is on, with the variants of `export.variants`.

Variants (VARIANTS), each converted from the stripped checkpoint:
- float32: the network as trained.
- float16: weights stored as float16, computed in float32.
- dynamic_int8: int8 weights; activations quantized on the fly (dynamic range).
- int8: full integer: weights and activations int8, calibrated on REPRESENTATIVE_IMAGES
  seeded training images (raw 0..255 pixels, as the networks take them). Input and
  output are int8 as well, so the file runs on integer-only hardware; the input's scale
  and zero point cover the calibration pixels (0..255 maps onto -128..127; the noise
  sweep's pixels beyond that range saturate), and export.litert.TFLiteModel quantizes
  pixels and dequantizes logits with them.
- sparse: float32, zero weights stored in TFLite's sparse format (EXPERIMENTAL_SPARSITY).
- sparse_int8: int8 as above, with the sparse format.
Networks of structured methods (tfprune.methods.STRUCTURED) are converted physically
shrunk (see `deployable`). Every file is run in batches on every test distribution of the
run (outputs cached per network and variant), and timed per image at LATENCY_BATCHES.
"""
import functools
import gzip
import os
import sys

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from export import litert, shrink
from tfprune import config as config_lib
from tfprune import evaluate, flops, methods, models
from tfprune import storage
from tfprune import errors

VARIANTS = ("float32", "float16", "dynamic_int8", "int8", "sparse", "sparse_int8")
INTEGER_VARIANTS = ("int8", "sparse_int8")  # need representative data
REPRESENTATIVE_IMAGES = 256
LATENCY_BATCHES = (1, 64)


def variants(names, key="config.export.variants"):
    """The variants named by `names` (a tuple, or comma-separated text; "all" = every one),
    in VARIANTS order; an unknown name raises ConfigError naming the allowed ones."""
    if isinstance(names, str):
        names = names.split(",")
    names = [n.strip() for n in names if n.strip()]
    for name in names:
        if name not in (*VARIANTS, "all"):
            raise errors.ConfigError(f"{key}: unknown variant {name!r}; allowed: all, "
                                         f"{', '.join(VARIANTS)}")
    if not names:
        raise errors.ConfigError(f"{key}: is empty; allowed: all, {', '.join(VARIANTS)}")
    return tuple(v for v in VARIANTS if v in names or "all" in names)


def representative_images(train_images, seed):
    """REPRESENTATIVE_IMAGES seeded training images, the int8 calibration set."""
    count = min(REPRESENTATIVE_IMAGES, len(train_images))
    chosen = np.random.default_rng(seed).choice(len(train_images), count, replace=False)
    return train_images[np.sort(chosen)].astype(np.float32)


def convert(model, variant="float32", representative=None):
    """The TFLite flatbuffer of a plain Keras model in `variant` (input batch left dynamic).
    `representative`: calibration images for the integer variants."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    optimizations = [] if variant in ("float32", "sparse") else [tf.lite.Optimize.DEFAULT]
    if variant.startswith("sparse"):
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant in INTEGER_VARIANTS:
        converter.representative_dataset = lambda: ([image[None]] for image in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def deployable(model, method):
    """The Keras model to ship for a network of `method` (None for the parent): physically
    shrunk for structured methods, whose dead channels are whole filters; unstructured
    ones keep their dense shape (their zeros go into the sparse variants)."""
    return shrink.shrink(model) if method in methods.STRUCTURED else model


def _network_facts(model, output_tile):
    """Parameters and multiply-accumulates per image of the converted Keras model, the
    latter also counted in the runtime's tiles of `output_tile` output channels."""
    return dict(params=models.count_params(model), macs=flops.macs(model),
                tiled_macs=flops.macs(model, output_tile=output_tile), output_tile=output_tile)


def gzip_size(content):
    """Bytes after gzip -9 (fixed header time, so reruns give equal numbers)."""
    return len(gzip.compress(content, compresslevel=9, mtime=0))


def export_and_evaluate(network_id, checkpoint, method, workdir, settings, representative,
                        measure, required, parent_id=None, log=print):
    """Convert (once), time (once per latency setting) and evaluate (once) each variant of
    `settings.variants` of a checkpoint: {variant: dict(file, size_bytes, gzip_bytes,
    delegate, params, macs, tiled_macs, output_tile, latency, parent_latency, outputs)}.

    `settings` is the run's `export` config; `representative` the calibration images;
    `measure(logits_of)` computes the run's outputs (see tfprune.evaluate) from a function
    that runs the network; `required` are the keys a stored result must hold. A pruned
    network is timed interleaved with the file of the same variant of `parent_id` (exported
    before it), whose time is its `parent_latency`: the speed-up is their ratio.
    """
    model = functools.cache(lambda: deployable(storage.load_model(checkpoint), method))
    latency_settings = dict(threads=settings.threads, runs=settings.latency_runs,
                            batch_runs=settings.latency_batch_runs, warmup=settings.latency_warmup,
                            rounds=litert.LATENCY_ROUNDS, paired_with=parent_id)
    exported = {}
    for variant in variants(settings.variants):
        path = _file(workdir, network_id, variant)
        converted = not storage.exists(path)
        if converted:
            storage.write_bytes(path, convert(model(), variant, representative))
            log(f"{network_id}: exported {os.path.relpath(path, workdir)}")
        content = storage.read_bytes(path)  # the interpreter takes bytes: any gfile path
        interpreter = litert.TFLiteModel(content, threads=settings.threads,
                                         batch_size=settings.batch_size, name=path)
        facts_path = path[:-len(".tflite")] + ".json"
        facts = {} if converted else _stored_facts(facts_path)  # a new file: time it anew
        stale_counts = facts.get("output_tile") != settings.output_tile
        stale_latency = facts.get("latency_settings") != latency_settings
        if stale_counts:
            facts.update(_network_facts(model(), settings.output_tile))
        if stale_latency:
            files = [content] + ([storage.read_bytes(_file(workdir, parent_id, variant))]
                                 if parent_id else [])
            latencies = measure_latency(files, settings) if settings.latency_runs else [None] * 2
            facts.update(latency_settings=latency_settings, latency=latencies[0],
                         parent_latency=latencies[1] if parent_id else None)
        if stale_counts or stale_latency:
            storage.write_json(facts_path, facts)
        outputs = evaluate.cached_outputs(
            os.path.join(workdir, "predictions", f"{network_id}.tflite-{variant}.npz"),
            lambda: measure(interpreter.predict_logits), required)
        exported[variant] = dict(
            file=os.path.relpath(path, workdir), size_bytes=len(content),
            gzip_bytes=gzip_size(content), delegate=interpreter.delegate,
            **{k: v for k, v in facts.items() if k != "latency_settings"}, outputs=outputs)
    return exported


def _file(workdir, network_id, variant):
    return os.path.join(workdir, "tflite", f"{network_id}.{variant}.tflite")


def _stored_facts(path):
    """A file's stored facts, or {} when missing or unreadable (they are measured anew)."""
    try:
        return storage.read_json(path)
    except (OSError, ValueError):
        return {}


def measure_latency(files, settings):
    """[{"batch_<n>": {median_ms, p90_ms}} per image at each of LATENCY_BATCHES] of each
    .tflite file (path or content) of `files`, timed together in interleaved rounds
    (litert.interleaved_latency), so that their ratios hold."""
    latencies = [{} for _ in files]
    for size in LATENCY_BATCHES:
        runs = settings.latency_runs if size == 1 else settings.latency_batch_runs
        timed = litert.interleaved_latency(files, settings.threads, size, runs,
                                           settings.latency_warmup)
        for latency, timing in zip(latencies, timed):
            latency[f"batch_{size}"] = timing
    return latencies


def main(argv=None):
    from absl import app, flags, logging
    from tfprune import pipeline

    flags.DEFINE_string("workdir", None, "Run directory of a finished tfprune.run.")
    flags.DEFINE_string("variants", None, "Comma-separated TFLite variants, or 'all' "
                        f"({', '.join(VARIANTS)}); default: the run's export.variants.")
    flags.DEFINE_integer("threads", None, "Interpreter threads; default: export.threads.")
    flags.DEFINE_integer("latency_runs", None, "Timed batch-1 invokes per file (0 = no "
                         "latency); default: export.latency_runs. Files are timed again "
                         "when the threads or runs differ from their last timing.")
    flags.DEFINE_integer("output_tile", None, "Output channels the target runtime computes "
                         "at a time, for the tiled FLOP counts; default: export.output_tile.")
    flags.mark_flag_as_required("workdir")

    def run(_):
        logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the table
        return pipeline.main_guarded(lambda: pipeline.run_stored(
            flags.FLAGS.workdir,
            variants=flags.FLAGS.variants and variants(flags.FLAGS.variants, "--variants"),
            threads=flags.FLAGS.threads, latency_runs=flags.FLAGS.latency_runs,
            output_tile=flags.FLAGS.output_tile))

    app.run(run, argv=argv or sys.argv)


if __name__ == "__main__":
    main()
