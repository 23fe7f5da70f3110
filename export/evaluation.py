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

from export import litert, pqat
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
                        measure, required, sources, training, parent_id=None, log=print):
    """Convert (once), time (once per latency setting) and evaluate (once) each variant of
    `settings.variants` of a checkpoint: {variant: dict(file, size_bytes, gzip_bytes,
    delegate, params, macs, tiled_macs, output_tile, latency, parent_latency, outputs)}.

    `structured`: whether the network's method removes whole channels (it is shrunk
    first); `settings` is the run's `export` config; `representative` the calibration
    images; `measure(logits_of)` computes the run's outputs (see tfprune.evaluate) from a
    function that runs the network; `required` are the keys a stored result must hold,
    `sources` the digests it is derived from besides the file's (evaluate.cached_outputs);
    `training` (an export.pqat.Training) what the fine-tuned variants fine-tune with.
    A pruned network is timed interleaved with the file of the same variant of `parent_id`
    (exported before it), whose time is its `parent_latency`: the speed-up is their ratio.

    A file's facts record its digest and its checkpoint's (and a fine-tuned variant's, its
    stored PQAT weights'): a file whose facts are missing, or that changed, or was exported
    from another checkpoint or weights, is exported again. A fine-tuned variant's facts
    also count the zero weights of the Keras network (its pruning pattern) and the
    fraction of them still zero in the file: pruned_zeros, pruned_zeros_kept.
    """
    model = functools.cache(lambda: variants_lib.deployable(storage.load_model(checkpoint),
                                                            structured))
    checkpoint_digest = storage.file_digest(checkpoint)
    exported = {}
    for variant in variants_lib.parse(settings.variants):
        path = workdir.tflite_file(run_dir, network_id, variant)
        facts_path = workdir.tflite_facts(run_dir, network_id, variant)
        made_from = dict(checkpoint_sha256=checkpoint_digest)
        tuned = None
        if variants_lib.VARIANTS[variant].fine_tuned:
            tuned = pqat.FineTuned(model, training, workdir.pqat_weights(run_dir, network_id),
                                   checkpoint_digest, network_id, log)
            made_from["pqat_weights_sha256"] = tuned.digest
        content, facts = _verified_export(path, facts_path, made_from, log)
        if content is None:
            content = variants_lib.convert(tuned.network() if tuned else model(), variant,
                                           representative)
            storage.write_bytes(path, content)
            log(f"{network_id}: exported {os.path.relpath(path, run_dir)}")
            facts = dict(tflite_sha256=storage.bytes_digest(content), **made_from)
            if tuned:
                zeros, kept = pqat.zeros_kept(model(), content)
                facts.update(pruned_zeros=zeros, pruned_zeros_kept=kept / zeros if zeros else None,
                             pqat_history=tuned.history())
        interpreter = litert.TFLiteModel(content, threads=settings.threads,
                                         batch_size=settings.batch_size, name=path)
        files = [content] + ([storage.read_bytes(workdir.tflite_file(
            run_dir, parent_id, variant))] if parent_id else [])
        latency_settings = dict(
            threads=settings.threads, runs=settings.latency_runs,
            batch_runs=settings.latency_batch_runs, warmup=settings.latency_warmup,
            rounds=litert.LATENCY_ROUNDS, paired_with=parent_id,
            paired_sha256=storage.bytes_digest(files[1]) if parent_id else None)
        stale_counts = facts.get("output_tile") != settings.output_tile
        stale_latency = facts.get("latency_settings") != latency_settings
        if stale_counts:
            facts.update(_network_facts(model(), settings.output_tile))
        if stale_latency:
            latencies = measure_latency(files, settings) if settings.latency_runs else [None] * 2
            facts.update(latency_settings=latency_settings, latency=latencies[0],
                         parent_latency=latencies[1] if parent_id else None)
        if stale_counts or stale_latency:
            storage.write_json(facts_path, facts)
        outputs = evaluate.cached_outputs(
            workdir.predictions(run_dir, network_id, variant),
            lambda: measure(interpreter.predict_logits), required,
            dict(sources, **{"tflite file": facts["tflite_sha256"]}), log)
        exported[variant] = dict(
            file=os.path.relpath(path, run_dir), size_bytes=len(content),
            gzip_bytes=gzip_size(content), delegate=interpreter.delegate,
            **{k: v for k, v in facts.items() if k not in _PROVENANCE}, outputs=outputs)
    return exported


# Facts that say what a file was made from, not what it is; results.json leaves them out.
_PROVENANCE = ("latency_settings", "tflite_sha256", "checkpoint_sha256", "pqat_weights_sha256")
# What each digest a file is made from stands for, in the log line that exports it again.
_MADE_FROM = dict(checkpoint_sha256="its checkpoint", pqat_weights_sha256="its PQAT weights")


def _verified_export(path, facts_path, made_from, log):
    """(content, facts) of an exported file its facts vouch for: made from the files of
    the digests `made_from` ({fact: digest}), unchanged since; (None, {}) when it must be
    exported (again)."""
    if not storage.exists(path):
        return None, {}
    facts = _stored_facts(facts_path)
    try:
        content = storage.read_bytes(path)
    except OSError as error:
        problem = f"unreadable: {error}"
    else:
        if not facts:
            problem = f"{os.path.basename(facts_path)} is missing or unreadable"
        elif facts.get("checkpoint_sha256") is None:
            problem = f"{os.path.basename(facts_path)} does not say what it was exported from"
        elif any(facts.get(fact) != digest for fact, digest in made_from.items()):
            problem = " and ".join(_MADE_FROM[fact] for fact, digest in made_from.items()
                                   if facts.get(fact) != digest) + " changed since"
        elif facts.get("tflite_sha256") != storage.bytes_digest(content):
            problem = "the file changed since it was measured"
        else:
            return content, facts
    log(f"{path}: exporting it again ({problem})")
    return None, {}


def _stored_facts(path):
    """A file's stored facts, or {} when missing or unreadable (they are measured anew)."""
    try:
        facts = storage.read_json(path)
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


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
