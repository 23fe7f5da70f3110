"""A whole run, stage by stage: data, parent, each method's cascade, evaluation of
every network (Keras, then TFLite), results.json and the printed table.

Every stage writes its outcome atomically (checkpoint, record, predictions) before the
next begins, and is skipped when its outcome exists: rerunning the same command on the
same workdir continues where a crash stopped it.
"""
import json
import os
import sys
import time

import ml_collections
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import cascade, config as config_lib, data, evaluate, models, train
from tfprune import io as io_lib
from tfprune import results as results_lib

# Keys whose change only changes what is measured: a workdir may be re-evaluated with them.
EVALUATION_KEYS = ("eval", "export")


def _flatten(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _prepare_workdir(config, workdir):
    """Refuse a workdir that holds a run of another training config; record this one."""
    path = os.path.join(workdir, "config.json")
    current = json.loads(config.to_json())
    if os.path.exists(path):
        try:
            with open(path) as stream:
                stored = json.load(stream)
        except (OSError, ValueError) as error:
            raise config_lib.ConfigError(
                f"{path} is unreadable ({error}); use a new --workdir") from error
        changed = sorted(k for k, v in _flatten(current).items()
                         if _flatten(stored).get(k) != v and not k.startswith(EVALUATION_KEYS))
        if changed:
            raise config_lib.ConfigError(
                f"--workdir={workdir} holds a run with other settings ({', '.join(changed)}); "
                "use a new --workdir, or the same config to continue that run")
    os.makedirs(workdir, exist_ok=True)
    io_lib.write_json(path, current)


def _train_parent(config, dataset, workdir, log):
    path = os.path.join(workdir, "checkpoints", "parent.keras")
    record_path = path.replace(".keras", ".json")
    if os.path.exists(path) and os.path.exists(record_path):
        log(f"parent: reusing {path}")
        return path
    started = time.time()
    model = models.build(config.model.name, dataset.train_images.shape[1:], dataset.num_classes,
                         dataset.mean, dataset.std, seed=config.seed)
    log(f"parent: training {config.model.name} ({models.count_params(model):,} parameters) "
        f"for {config.train.epochs} epochs")
    history = train.fit(model, dataset, config, config.train.epochs, seed=config.seed,
                        callbacks=[tf.keras.callbacks.TensorBoard(
                            os.path.join(workdir, "tensorboard", "parent"))], stage="parent")
    io_lib.save_model(path, model)
    io_lib.write_json(record_path, dict(params=models.count_params(model), history=history,
                                        train_seconds=time.time() - started))
    return path


def _evaluate_network(network_id, checkpoint, distributions, labels, parent, config, workdir):
    """Keras outputs on every distribution, then the TFLite ones; both cached.

    `parent` holds the parent's Keras outputs (None when evaluating the parent itself):
    every network is compared to them.
    """
    def keras_outputs():
        model = tf.keras.models.load_model(checkpoint, compile=False)
        return evaluate.outputs(
            lambda images: evaluate.predict_logits(model, images, config.eval.batch_size),
            distributions, labels, reference=parent, keep_probabilities=parent is None)

    outputs = evaluate.cached_outputs(
        os.path.join(workdir, "predictions", f"{network_id}.keras.npz"), keras_outputs,
        distributions)
    tflite = None
    if config.export.tflite:
        from export import tflite as tflite_export
        tflite = tflite_export.export_and_evaluate(network_id, checkpoint, distributions, labels,
                                                   parent or outputs, workdir,
                                                   config.export.threads)
    return dict(outputs=outputs, tflite=tflite)


def _log_scalars(workdir, method, step, prune_ratio, outputs, distributions, labels):
    """Per-cycle accuracy scalars beside TF-MOT's pruning summaries in TensorBoard."""
    writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard", method, "cycles"))
    with writer.as_default():
        tf.summary.scalar("prune_ratio", prune_ratio, step=step)
        for name in distributions:
            tf.summary.scalar(f"accuracy/{name}", float(np.mean(outputs[f"{name}:pred"] == labels)),
                              step=step)
    writer.close()


def run(config, workdir, log=print):
    """Run (or continue) the whole pipeline of `config` in `workdir`; returns results."""
    config_lib.validate(config)
    _prepare_workdir(config, workdir)
    started = time.time()
    dataset = data.load(config.data, config.seed)
    log(f"data: {dataset.source}; train {len(dataset.train_labels)}, "
        f"validation {len(dataset.val_labels)}, test {len(dataset.test_labels)}")
    cache_dir = config.eval.cache_dir or os.path.join(workdir, "cache")
    distributions = evaluate.test_distributions(dataset, config.eval, cache_dir, log)
    labels = dataset.test_labels
    parent_path = _train_parent(config, dataset, workdir, log)
    with open(parent_path.replace(".keras", ".json")) as stream:
        parent_params = json.load(stream)["params"]
    parent = dict(params=parent_params, **_evaluate_network(
        "parent", parent_path, distributions, labels, None, config, workdir))
    ratios = config_lib.target_ratios(config.prune)
    networks = []
    for method in config_lib.methods_of(config.prune):
        _log_scalars(workdir, method, 0, 0.0, parent["outputs"], distributions, labels)
        for cycle in cascade.run(method, parent_path, ratios, dataset, config, workdir, log):
            with open(cycle.path.replace(".keras", ".json")) as stream:
                record = json.load(stream)
            evaluated = _evaluate_network(cycle.network_id, cycle.path, distributions, labels,
                                          parent["outputs"], config, workdir)
            _log_scalars(workdir, method, cycle.index, record["prune_ratio"],
                         evaluated["outputs"], distributions, labels)
            networks.append(dict(method=method, record=record, **evaluated))
    header = dict(config=json.loads(config.to_json()), dataset=dataset.summary(),
                  distributions={name: dict(source="test split" if name == evaluate.NOMINAL
                                            else "generated in-process by tfprune.corruptions "
                                                 f"(seed {config.eval.corruption_seed})")
                                 for name in distributions})
    results = results_lib.build(header, labels, parent, networks, config.eval.delta,
                                config.eval.groups)
    results["wall_seconds_this_invocation"] = time.time() - started
    io_lib.write_json(os.path.join(workdir, "results.json"), results)
    log(results_lib.table(results))
    log(f"\nresults: {os.path.join(workdir, 'results.json')}; "
        f"tensorboard --logdir {os.path.join(workdir, 'tensorboard')}")
    return results


def run_stored(workdir):
    """Continue the run stored in `workdir`, with TFLite export on."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        raise config_lib.ConfigError(f"{path} is missing; --workdir must be a tfprune.run workdir")
    config = config_lib.base()
    with open(path) as stream:
        config.update_from_flattened_dict(_flatten(json.load(stream)))
    config.export.tflite = True
    return run(config, workdir)


USER_ERRORS = (config_lib.ConfigError, data.DataError, train.TrainingError)


def main_guarded(job):
    """Run `job`; a user error ends the process with its one-line message and exit 2."""
    from export.litert import TFLiteError

    try:
        job()
    except (*USER_ERRORS, TFLiteError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
