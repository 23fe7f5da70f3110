"""tfprune's public Python API: the study on Python objects, e.g. from a notebook.

A few explicit functions, in the spirit of TF-MOT's API:

  config(file, overrides)         a run's config: a config file's, or the defaults
  prune(model, method, ratio)     one method, one ratio, no retraining: a masked copy
  run(config, workdir, model=, data=)
                                  the whole study (parent, control, prune-retrain cascade
                                  per method, evaluation, TFLite export and re-evaluation,
                                  report) in a workdir, as `python -m tfprune.run` runs it
  load_distributions(config)      the data set and its test distributions (nominal,
                                  corruptions)
  evaluate(model, distributions)  top-1 accuracy of a Keras network per distribution
  export_tflite(model, variant)   a network's TFLite flatbuffer in an export variant
  evaluate_tflite(content, distributions)
                                  top-1 accuracy of a TFLite file per distribution
  report(workdir)                 report.md and its figures of a finished run

`run` writes the same workdir, results.json and report as the command line, which is a
thin user of it; Python objects given to it are stored in the workdir first
(workdir.api_input), so a rerun with the same objects continues the run.
"""
import runpy

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from export import litert
from export import variants as variants_lib
from tfprune import cascade, data, distributions, errors, evaluate as evaluate_lib, lock
from tfprune import config as config_lib
from tfprune import methods, metrics, models, report as report_lib, storage, sweep, workdir

__all__ = ["config", "prune", "run", "load_distributions", "evaluate", "export_tflite",
           "evaluate_tflite", "report"]


def config(file=None, overrides=None):
    """The config of `file` (e.g. "configs/quickstart.py" or "configs/resnet20.py:quick";
    None: tfprune.config.base()) with `overrides` ({"train.epochs": 5, ...}) applied;
    an unknown key or a bad value raises errors.ConfigError in one line."""
    if file:
        path, _, argument = file.partition(":")
        get_config = runpy.run_path(path)["get_config"]
        result = get_config(argument) if argument else get_config()
    else:
        result = config_lib.base()
    for key, value in (overrides or {}).items():
        problem = config_lib.unknown_key_error(key)
        if problem:
            raise errors.ConfigError(problem.replace("--config.", "", 1))
        section, _, name = key.rpartition(".")
        node = result
        for part in filter(None, section.split(".")):
            node = node[part]
        node[name] = value
    config_lib.validate(result)
    return result


def prune(model, method, ratio, images=None, labels=None, prune_config=None):
    """A copy of `model` with `method`'s masks for `ratio` (a fraction of all parameters)
    applied, not retrained. The data-informed methods (sipp, pfp) score on `images`
    (and the zero_gradient dead-weight rule on `labels` too); `prune_config`: a config's
    `prune` section or a dict of its keys (knobs, dead_weights, budget_tolerance)."""
    declared = methods.get(method)
    if declared.masks != methods.ASSIGNED:
        raise errors.ConfigError(f"{method} prunes during retraining (TF-MOT's schedule); "
                                 "use run() with prune.methods, or one of "
                                 f"{', '.join(methods.assigned_names())}")
    if declared.needs_data and images is None:
        raise errors.ConfigError(f"{method} scores with data; pass images=")
    pruned = tf.keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    keep = cascade.keep_budget(pruned, ratio, models.count_params(pruned))
    scoring = None if images is None else np.asarray(images, np.float32)
    methods.budget.apply(pruned, declared.bind(prune_config)(pruned, keep, scoring, labels))
    return pruned


def _stored_model(run_dir, model):
    """`model` saved as the run's parent source, once per distinct weights and graph."""
    digest = storage.arrays_digest({
        "graph": np.array(model.to_json()),
        **{f"w{i}": w for i, w in enumerate(model.get_weights())}})
    path = workdir.api_input(run_dir, "model", digest, "keras")
    if not storage.exists(path):
        storage.save_model(path, model)
    return path


def _stored_arrays(run_dir, arrays):
    """(x_train, y_train[, x_test, y_test]) saved as the run's npz data source."""
    if len(arrays) not in (2, 4):
        raise errors.ConfigError(f"data= holds {len(arrays)} arrays; pass (x_train, y_train) "
                                 "or (x_train, y_train, x_test, y_test)")
    named = dict(zip(("x_train", "y_train", "x_test", "y_test"), map(np.asarray, arrays)))
    path = workdir.api_input(run_dir, "data", storage.arrays_digest(named), "npz")
    if not storage.exists(path):
        storage.save_arrays(path, named)
    return path


def run(run_config, run_dir, model=None, data_arrays=None, shard=None, program="tfprune.api",
        log=print):
    """Run (or continue) the study of `run_config` in `run_dir` and return its results
    (as results.json holds them; None for a sweep shard, whose merge writes them).

    `model`: a trained tf.keras classifier to use as the parent (config model.path, not
    trained unless model.train_parent); `data_arrays`: uint8 images and integer labels,
    (x_train, y_train[, x_test, y_test]) (config data.name=npz). `shard`: (i, n) of a
    sweep; `program`: the name the workdir lock records."""
    config_lib.validate(run_config)  # a config that cannot run writes nothing
    if model is not None or data_arrays is not None:
        run_config = run_config.copy_and_resolve_references()
        workdir.require_folder(run_dir)
        if model is not None:
            run_config.model.path = _stored_model(run_dir, model)
        if data_arrays is not None:
            run_config.data.name, run_config.data.file = "npz", _stored_arrays(run_dir,
                                                                                data_arrays)
        config_lib.validate(run_config)
    # The shards of a sweep, and the workers of one multi_worker run, share the workdir.
    shared = shard is not None or run_config.train.strategy == "multi_worker"
    with lock.held(run_dir, program, shared=shared):
        sweep.run(run_config, run_dir, shard, log)
    path = workdir.results(run_dir)
    return storage.read_json(path) if shard is None and storage.exists(path) else None


def load_distributions(run_config, cache_dir, data_arrays=None, log=print):
    """(the data set of `run_config`, its test distributions {name: Distribution}):
    nominal and every corruption of eval, generated and cached in `cache_dir`;
    `data_arrays` as for `run` (stored in `cache_dir` too)."""
    if data_arrays is not None:
        run_config = run_config.copy_and_resolve_references()
        run_config.data.name, run_config.data.file = "npz", _stored_arrays(cache_dir,
                                                                            data_arrays)
    dataset = data.load(run_config.data, run_config.seed)
    found, _ = distributions.build(dataset, run_config.eval, run_config.data, cache_dir, log)
    return dataset, found


def evaluate(model, test_distributions, batch_size=500):
    """{distribution: top-1 accuracy} of a Keras network (taking 0..255 pixels)."""
    return {name: metrics.accuracy(
        evaluate_lib.predict_logits(model, d.images, batch_size).argmax(-1), d.labels)
            for name, d in test_distributions.items()}


def export_tflite(model, variant="float32", structured=False, representative=None):
    """The TFLite flatbuffer of a Keras network in `variant` (export.variants.VARIANTS),
    physically shrunk first when `structured` (a network of ft or pfp); the integer
    variants calibrate on `representative` images."""
    variants_lib.parse((variant,), "variant")
    return variants_lib.convert(variants_lib.deployable(model, structured), variant,
                                representative)


def evaluate_tflite(content, test_distributions, threads=2, batch_size=64):
    """{distribution: top-1 accuracy} of a TFLite file (bytes or a path), run by
    ai-edge-litert's interpreter as an edge device runs it."""
    interpreter = litert.TFLiteModel(content, threads=threads, batch_size=batch_size)
    return {name: metrics.accuracy(interpreter.predict(d.images), d.labels)
            for name, d in test_distributions.items()}


def report(run_dir):
    """Write report.md and its figures for the run in `run_dir`; returns report.md's path."""
    return report_lib.write_report(run_dir)
