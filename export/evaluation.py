"""A run's networks as TFLite files: each variant converted once, timed once per latency
setting, and evaluated once with ai-edge-litert's interpreter, every result kept in the
workdir (tfprune.workdir) so that a rerun reuses it.

Every file is run in batches on every test distribution of the run, and timed per image
at LATENCY_BATCHES; a pruned network's file is timed in interleaved rounds with its
parent's file of the same variant, so their ratio (a speed-up) holds.
"""
import functools
import gzip
import os

import numpy as np

from export import litert
from export import variants as variants_lib
from tfprune import evaluate, flops, models, storage, workdir

REPRESENTATIVE_IMAGES = 256
LATENCY_BATCHES = (1, 64)


def representative_images(train_images, seed):
    """REPRESENTATIVE_IMAGES seeded training images, the int8 calibration set."""
    count = min(REPRESENTATIVE_IMAGES, len(train_images))
    chosen = np.random.default_rng(seed).choice(len(train_images), count, replace=False)
    return train_images[np.sort(chosen)].astype(np.float32)


def _network_facts(model, output_tile):
    """Parameters and multiply-accumulates per image of the converted Keras model, the
    latter also counted in the runtime's tiles of `output_tile` output channels."""
    return dict(params=models.count_params(model), macs=flops.macs(model),
                tiled_macs=flops.macs(model, output_tile=output_tile), output_tile=output_tile)


def gzip_size(content):
    """Bytes after gzip -9 (fixed header time, so reruns give equal numbers)."""
    return len(gzip.compress(content, compresslevel=9, mtime=0))


def export_and_evaluate(network_id, checkpoint, structured, run_dir, settings, representative,
                        measure, required, parent_id=None, log=print):
    """Convert (once), time (once per latency setting) and evaluate (once) each variant of
    `settings.variants` of a checkpoint: {variant: dict(file, size_bytes, gzip_bytes,
    delegate, params, macs, tiled_macs, output_tile, latency, parent_latency, outputs)}.

    `structured`: whether the network's method removes whole channels (it is shrunk
    first); `settings` is the run's `export` config; `representative` the calibration
    images; `measure(logits_of)` computes the run's outputs (see tfprune.evaluate) from a
    function that runs the network; `required` are the keys a stored result must hold. A
    pruned network is timed interleaved with the file of the same variant of `parent_id`
    (exported before it), whose time is its `parent_latency`: the speed-up is their ratio.
    """
    model = functools.cache(lambda: variants_lib.deployable(storage.load_model(checkpoint),
                                                            structured))
    latency_settings = dict(threads=settings.threads, runs=settings.latency_runs,
                            batch_runs=settings.latency_batch_runs, warmup=settings.latency_warmup,
                            rounds=litert.LATENCY_ROUNDS, paired_with=parent_id)
    exported = {}
    for variant in variants_lib.parse(settings.variants):
        path = workdir.tflite_file(run_dir, network_id, variant)
        converted = not storage.exists(path)
        if converted:
            storage.write_bytes(path, variants_lib.convert(model(), variant, representative))
            log(f"{network_id}: exported {os.path.relpath(path, run_dir)}")
        content = storage.read_bytes(path)  # the interpreter takes bytes: any gfile path
        interpreter = litert.TFLiteModel(content, threads=settings.threads,
                                         batch_size=settings.batch_size, name=path)
        facts_path = workdir.tflite_facts(run_dir, network_id, variant)
        facts = {} if converted else _stored_facts(facts_path)  # a new file: time it anew
        stale_counts = facts.get("output_tile") != settings.output_tile
        stale_latency = facts.get("latency_settings") != latency_settings
        if stale_counts:
            facts.update(_network_facts(model(), settings.output_tile))
        if stale_latency:
            files = [content] + ([storage.read_bytes(workdir.tflite_file(
                run_dir, parent_id, variant))] if parent_id else [])
            latencies = measure_latency(files, settings) if settings.latency_runs else [None] * 2
            facts.update(latency_settings=latency_settings, latency=latencies[0],
                         parent_latency=latencies[1] if parent_id else None)
        if stale_counts or stale_latency:
            storage.write_json(facts_path, facts)
        outputs = evaluate.cached_outputs(workdir.predictions(run_dir, network_id, variant),
                                          lambda: measure(interpreter.predict_logits), required)
        exported[variant] = dict(
            file=os.path.relpath(path, run_dir), size_bytes=len(content),
            gzip_bytes=gzip_size(content), delegate=interpreter.delegate,
            **{k: v for k, v in facts.items() if k != "latency_settings"}, outputs=outputs)
    return exported


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
