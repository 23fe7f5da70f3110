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


import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import cascade, config as config_lib, data, evaluate, models, train
from tfprune import distributions as distributions_lib
from tfprune import report
from tfprune import storage
from tfprune import results as results_lib
from tfprune import strategy as strategy_lib
from tfprune import errors

# Keys that may change on an existing workdir: what is measured (re-evaluated without
# retraining), and which methods run (each method's cascade is kept apart).
EVALUATION_KEYS = ("eval.", "export.", "prune.method")
# The layout of a workdir (config.json, checkpoints, records, predictions) that this
# version reads; config.json records it, and a workdir of another format is refused.
WORKDIR_FORMAT = 1


def _flatten(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _stored_record(path):
    """The config in a workdir's config.json; refused when unreadable or written by a
    tfprune version with another workdir format."""
    try:
        stored = storage.read_json(path)
    except (OSError, ValueError) as error:
        raise errors.ConfigError(f"{path} is unreadable ({error}); use a new --workdir, "
                                     "or --fresh to move this one aside") from error
    found = stored.pop("format_version", 1)  # workdirs written before the field are format 1
    if found != WORKDIR_FORMAT:
        raise errors.ConfigError(
            f"{os.path.dirname(path)} holds a run of another tfprune version (workdir format "
            f"{found}, this version reads {WORKDIR_FORMAT}); use a new --workdir, or --fresh "
            "to move it aside and start over")
    return stored


def check_workdir(config, workdir):
    """Refuse a workdir that holds a run of another training config (a key its config.json
    lacks, being older than the key, counts as the key's default); returns the config
    as JSON."""
    path = os.path.join(workdir, "config.json")
    current = json.loads(config.to_json())
    if storage.exists(workdir) and not storage.isdir(workdir):
        raise errors.ConfigError(f"--workdir={workdir} is a file; choose a folder")
    if storage.exists(path):
        stored = dict(_flatten(json.loads(config_lib.base().to_json())),
                      **_flatten(_stored_record(path)))
        changed = sorted(k for k, v in _flatten(current).items()
                         if stored.get(k) != v and not k.startswith(EVALUATION_KEYS))
        if changed:
            raise errors.ConfigError(
                f"--workdir={workdir} holds a run with other settings ({', '.join(changed)}); "
                "use a new --workdir, --fresh to move that run aside and start over, "
                "or the same config to continue it")
    return current


def prepare_workdir(config, workdir):
    """Refuse a workdir that holds a run of another training config; record this one."""
    storage.write_json(os.path.join(workdir, "config.json"),
                      dict(check_workdir(config, workdir), format_version=WORKDIR_FORMAT))


def _train_network(config, dataset, workdir, log, name, seed, unit=None):
    """Train an unpruned network (the parent, or a reference with another seed) once.
    Sweep units (`unit`: their method) that may train the same network at the same time
    keep separate backups; their checkpoints are identical and written atomically.
    Returns the checkpoint (in a scratch folder, for a non-chief multi_worker worker)."""
    path = os.path.join(workdir, "checkpoints", f"{name}.keras")
    record_path = path.replace(".keras", ".json")
    backup_dir = os.path.join(workdir, "backup", f"{name}-for-{unit}" if unit else name)
    if storage.exists(path) and storage.exists(record_path):
        train.discard_backup(backup_dir)  # left behind if a crash followed the record
        log(f"{name}: reusing {path}")
        return path
    started = time.time()
    strategy = strategy_lib.get(config.train.strategy)
    output = strategy_lib.output_dir(workdir)
    # Layer names as in a fresh process, whatever this one built before (a sweep runs
    # several seeds in one process): checkpoints and TFLite files do not depend on it.
    tf.keras.backend.reset_uids()
    with strategy.scope():
        model = models.build(config.model.name, dataset.train_images.shape[1:],
                             dataset.num_classes, dataset.mean, dataset.std, seed=seed)
    log(f"{name}: training {config.model.name} ({models.count_params(model):,} parameters) "
        f"for {config.train.epochs} epochs, seed {seed}, strategy {config.train.strategy} "
        f"({strategy.num_replicas_in_sync} replicas)")
    history = train.fit(model, dataset, config, config.train.epochs, seed=seed,
                        callbacks=[tf.keras.callbacks.TensorBoard(
                            os.path.join(output, "tensorboard", name))], stage=name,
                        backup_dir=backup_dir)
    saved_path = os.path.join(output, "checkpoints", f"{name}.keras")
    storage.save_model(saved_path, model)
    storage.write_json(saved_path.replace(".keras", ".json"), dict(
        params=models.count_params(model), history=history,
        replicas=strategy.num_replicas_in_sync, train_seconds=time.time() - started))
    train.discard_backup(backup_dir)
    return saved_path


class _Evaluator:
    """Evaluates networks (Keras, then TFLite) on the run's distributions and noise,
    caching each network's outputs; every network is compared to the parent's."""

    def __init__(self, config, workdir, distributions, dataset):
        self.config, self.workdir, self.distributions = config, workdir, distributions
        self.noise_images, self.std = dataset.test_images, dataset.std
        self.train_images = dataset.train_images
        self.required = [f"{d}:pred" for d in distributions]
        if config.eval.noise_images:
            self.required.append("noise:pred")

    def _measure(self, logits_of, parent):
        result = evaluate.outputs(logits_of, self.distributions, reference=parent,
                                  keep_probabilities=parent is None)
        if self.config.eval.noise_images:
            result["noise:pred"] = evaluate.noise_predictions(
                logits_of, self.noise_images, self.std, self.config.eval,
                self.config.eval.corruption_seed)
        return result

    def __call__(self, network_id, checkpoint, parent=None, tflite=True, method=None):
        """`parent`: the parent's Keras outputs (None when evaluating the parent itself);
        `method`: the pruning method of the network (None for unpruned ones)."""
        def keras_outputs():
            model = storage.load_model(checkpoint)
            batch_size = self.config.eval.batch_size
            return self._measure(lambda x: evaluate.predict_logits(model, x, batch_size), parent)

        outputs = evaluate.cached_outputs(
            os.path.join(self.workdir, "predictions", f"{network_id}.keras.npz"), keras_outputs,
            self.required)
        exported = {}
        if tflite and self.config.export.tflite:
            from export import tflite as tflite_export
            exported = tflite_export.export_and_evaluate(
                network_id, checkpoint, method, self.workdir, self.config.export,
                tflite_export.representative_images(self.train_images, self.config.seed),
                lambda logits_of: self._measure(logits_of, parent or outputs), self.required,
                parent_id=None if parent is None else "parent")
        return dict(outputs=outputs, export=exported)


def _log_scalars(workdir, method, step, scalars):
    """Per-cycle scalars (accuracy, prune potential so far, sparsity) in TensorBoard,
    beside TF-MOT's pruning summaries, so that a run can be watched as it proceeds."""
    writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard", method, "cycles"))
    with writer.as_default():
        for tag, value in scalars.items():
            tf.summary.scalar(tag, value, step=step)
    writer.close()


def _log_samples(workdir, distributions):
    """The first test images of every distribution, to see what the networks are tested on."""
    writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard", "samples"))
    with writer.as_default():
        for name, distribution in distributions.items():
            tf.summary.image(f"samples/{name}", distribution.images[:4], max_outputs=4, step=0)
    writer.close()


def _record(path):
    return storage.read_json(path.replace(".keras", ".json"))


def results_path(workdir, method=None):
    """results.json, or a sweep unit's results-<method>.json (tfprune.sweep merges them)."""
    return os.path.join(workdir, f"results-{method}.json" if method else "results.json")


def run(config, workdir, log=print, only_method=None):
    """Run (or continue) the whole pipeline of `config` in `workdir`; returns results.

    `only_method`: this one of the config's methods alone, as one unit of a sweep
    (tfprune.sweep): its results go to `results_path(workdir, only_method)`, no report."""
    config_lib.validate(config)
    if config.seeds:
        raise errors.ConfigError(
            f"config.seeds={tuple(config.seeds)} lists repetitions; run them with python -m "
            "tfprune.run (tfprune.sweep), or one with --workdir=<its seed-<s> folder>")
    strategy_lib.get(config.train.strategy)  # before any TensorFlow op (multi_worker)
    if not strategy_lib.is_chief():
        check_workdir(config, workdir)
        return _train_as_worker(config, workdir, log, only_method)
    prepare_workdir(config, workdir)
    started = time.time()
    dataset = data.load(config.data, config.seed)
    log(f"data: {dataset.source}; train {len(dataset.train_labels)}, "
        f"validation {len(dataset.val_labels)}, test {len(dataset.test_labels)}")
    distributions, unavailable = distributions_lib.build(
        dataset, config.eval, config.data, cache_dir(config, workdir), log)
    _log_samples(workdir, distributions)
    evaluator = _Evaluator(config, workdir, distributions, dataset)
    parent_path = _train_network(config, dataset, workdir, log, "parent", config.seed,
                                 only_method)
    parent = dict(params=_record(parent_path)["params"], **evaluator("parent", parent_path))
    reference = None
    if config.eval.reference_network:
        reference_path = _train_network(config, dataset, workdir, log, "reference",
                                        config.seed + 1, only_method)
        reference = evaluator("reference", reference_path, parent["outputs"], tflite=False)
    networks = []
    for method in _methods(config, only_method):
        parent_accuracy = results_lib.accuracies(parent["outputs"], distributions)
        _log_scalars(workdir, method, 0, dict(
            prune_ratio=0.0, **{f"accuracy/{d}": a for d, a in parent_accuracy.items()}))
        curve = []
        for cycle in cascade.run(method, parent_path, config_lib.target_ratios(config.prune),
                                 dataset, config, workdir, log):
            record = _record(cycle.path)
            evaluated = evaluator(cycle.network_id, cycle.path, parent["outputs"], method=method)
            accuracy = results_lib.accuracies(evaluated["outputs"], distributions)
            curve.append(dict(prune_ratio=record["prune_ratio"], accuracy=accuracy))
            potential = results_lib.prune_potentials(curve, parent_accuracy, config.eval.delta)
            _log_scalars(workdir, method, cycle.index, dict(
                prune_ratio=record["prune_ratio"],
                **{f"accuracy/{d}": a for d, a in accuracy.items()},
                **{f"prune_potential/{d}": p for d, p in potential.items()},
                **{f"layer_sparsity/{n}": v for n, v in record["layer_sparsity"].items()}))
            networks.append(dict(method=method, record=record, **evaluated))
    header = dict(config=json.loads(config.to_json()), dataset=dataset.summary(),
                  distributions={name: dict(source=d.source, size=len(d.labels))
                                 for name, d in distributions.items()},
                  unavailable=unavailable)
    noise = None
    if config.eval.noise_images:
        noise = dict(eps=[float(e) for e in evaluate.noise_levels(config.eval)],
                     labels=dataset.test_labels[: config.eval.noise_images])
    results = results_lib.build(header, distributions, parent, networks, config.eval.delta,
                                config.eval.groups, reference=reference, noise=noise)
    results["wall_seconds_this_invocation"] = time.time() - started
    from export import merge  # device results merged before (export.merge) stay in
    devices = merge.stored_devices(workdir, results, log)
    if devices:
        results["devices"] = devices
    storage.write_json(results_path(workdir, only_method), results)
    log(results_lib.table(results))
    log(f"\nresults: {results_path(workdir, only_method)}; "
        f"report: {report.write_report(workdir) if not only_method else 'by the sweep merge'}; "
        f"tensorboard --logdir {os.path.join(workdir, 'tensorboard')}")
    return results


def _methods(config, only_method):
    """The methods this run prunes with: the config's, or a sweep unit's one."""
    return [only_method] if only_method else config_lib.methods_of(config.prune)


def _train_as_worker(config, workdir, log, only_method):
    """A non-chief worker of multi_worker training trains every network with the chief,
    in the same order (their collective ops pair up), reading which stages are finished
    from the chief's workdir; evaluation, results and report are the chief's alone."""
    dataset = data.load(config.data, config.seed)
    parent_path = _train_network(config, dataset, workdir, log, "parent", config.seed,
                                 only_method)
    if config.eval.reference_network:
        _train_network(config, dataset, workdir, log, "reference", config.seed + 1,
                       only_method)
    for method in _methods(config, only_method):
        for _ in cascade.run(method, parent_path, config_lib.target_ratios(config.prune),
                             dataset, config, workdir, log):
            pass


def cache_dir(config, workdir):
    """Where the run's generated corruptions are cached."""
    return config.eval.cache_dir or os.path.join(workdir, "cache")


def stored_config(workdir):
    """The config a workdir's run was started with (its config.json)."""
    path = os.path.join(workdir, "config.json")
    if not storage.exists(path):
        raise errors.ConfigError(f"{path} is missing; --workdir must be a tfprune.run workdir")
    config = config_lib.base()
    config.update_from_flattened_dict(_flatten(_stored_record(path)))
    return config


def run_stored(workdir, variants=None, **export_keys):
    """Continue the run stored in `workdir`, with TFLite export on (in `variants`, when
    given, else in the run's export.variants), and the given `export` keys (None: the
    run's)."""
    config = stored_config(workdir)
    config.export.tflite = True
    if variants:
        config.export.variants = tuple(variants)
    config.export.update({key: value for key, value in export_keys.items() if value is not None})
    return run(config, workdir)


USER_ERRORS = (errors.ConfigError, errors.DataError, errors.TrainingError,
               errors.WorkdirError)


def main_guarded(job):
    """Run `job`; a user error ends the process with its one-line message and exit 2."""
    from export.litert import TFLiteError

    try:
        job()
    except (*USER_ERRORS, TFLiteError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except tf.errors.OpError as error:  # TensorFlow's own writes: summaries, backups
        failure = storage.storage_failure(error)
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        sys.exit(2)
