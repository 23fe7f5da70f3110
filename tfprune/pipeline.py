"""A whole run, stage by stage: data, parent, each method's cascade, evaluation of
every network (Keras, then TFLite), results.json and the printed table.

Every stage writes its outcome atomically (checkpoint, record, predictions) before the
next begins, and is skipped when its outcome exists: rerunning the same command on the
same workdir continues where a crash stopped it.
"""
import json
import time

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from export import devices
from export import evaluation as tflite_evaluation
from export import pqat
from tfprune import (cascade, data, evaluate, errors, methods, metrics, models, precision,
                     report, storage, train)
from tfprune import tables, user_models, workdir
from tfprune import config as config_lib
from tfprune import distributions as distributions_lib
from tfprune import results as results_lib
from tfprune import strategy as strategy_lib


def _train_network(config, dataset, run_dir, log, name, seed, unit=None, start=None):
    """Train an unpruned network once: the parent, or a reference with another seed, from
    scratch; or the control, `start` (the parent's checkpoint) retrained for
    prune.retrain_epochs on cycle 1's schedule and batches (`seed`), nothing pruned.
    Sweep units (`unit`: their method) that may train the same network at the same time
    keep separate backups; their checkpoints are identical and written atomically.
    Returns the checkpoint (in a scratch folder, for a non-chief multi_worker worker)."""
    path = workdir.checkpoint(run_dir, name)
    backup_dir = workdir.backup(run_dir, name, unit)
    if storage.exists(path) and storage.exists(workdir.record(path)):
        train.discard_backup(backup_dir)  # left behind if a crash followed the record
        log(f"{name}: reusing {path}")
        return path
    started = time.time()
    strategy = strategy_lib.get(config.train.strategy)
    output = strategy_lib.output_dir(run_dir)
    # Layer names as in a fresh process, whatever this one built before (a sweep runs
    # several seeds in one process): checkpoints and TFLite files do not depend on it.
    tf.keras.backend.reset_uids()
    with strategy.scope():
        network, source = (storage.load_model(start), None) if start else _network_for(
            config, dataset, seed, log)
        chosen = precision.resolve(config.train.precision, network=network)
        model = precision.with_policy(network, chosen.policy)
    epochs = config.prune.retrain_epochs if start else config.train.epochs
    if not start and config.model.path and not config.model.train_parent:
        history = {}  # the user's trained network, as given
        log(f"{name}: {models.describe(config.model)} ({models.count_params(model):,} "
            "parameters), as given: not trained (model.train_parent=False)")
    else:
        log(f"{name}: training {models.describe(config.model)} "
            f"({models.count_params(model):,} parameters) for {epochs} epochs"
            f"{' from the parent, nothing pruned' if start else ''}, seed {seed}, strategy "
            f"{config.train.strategy} ({strategy.num_replicas_in_sync} replicas), "
            f"{chosen.policy} ({chosen.reason})")
        callbacks = [tf.keras.callbacks.TensorBoard(workdir.training_logs(output, name))]
        if name == workdir.PARENT and config.prune.rewind == "weights":  # the rewind point
            callbacks.append(train.SaveRewindPoint(workdir.rewind_point(
                output, config.prune.rewind_epoch), config.prune.rewind_epoch))
        history = train.fit(model, dataset, config, epochs, seed=seed, callbacks=callbacks,
                            stage=name, backup_dir=backup_dir)
    saved_path = workdir.checkpoint(output, name)
    storage.save_model(saved_path, precision.with_policy(model, precision.FLOAT32))
    storage.write_json(workdir.record(saved_path), dict(
        params=models.count_params(model), history=history, precision=chosen.as_dict(),
        replicas=strategy.num_replicas_in_sync, train_seconds=time.time() - started,
        **({"source": source} if source else {})))  # where the user's network came from
    train.discard_backup(backup_dir)
    return saved_path


def _network_for(config, dataset, seed, log):
    """(network, source) of models.network for the data's image shape and classes, checked
    against them (data.check_network); a registry network that pools images that small
    below one pixel is refused in one line."""
    try:
        network, source = models.network(config.model, dataset.image_shape,
                                          dataset.num_classes, dataset.mean, dataset.std,
                                          seed, log)
    except errors.ConfigError:
        raise  # the user's network refused (tfprune.user_models), in its own words
    except ValueError as error:
        raise errors.ConfigError(
            f"{models.describe(config.model)} cannot take {dataset.image_shape[0]}x"
            f"{dataset.image_shape[1]} px images ({storage.reason(error)}); set "
            "--config.data.image_size=(height, width) larger, or another model") from error
    data.check_network(dataset, network, models.describe(config.model))
    return network, source


class _Evaluator:
    """Evaluates networks (Keras, then TFLite) on the run's distributions and noise,
    caching each network's outputs; every network is compared to the parent's."""

    def __init__(self, config, run_dir, distributions, dataset, log):
        self.config, self.run_dir, self.distributions = config, run_dir, distributions
        self.log = log
        self.noise_images, self.std = dataset.test_images, dataset.std
        self.train_images = dataset.train_images
        self.fine_tuning = pqat.Training(dataset, config)  # the pqat_int8 variant's
        self.inputs_digest = self._inputs_digest()

    def _inputs_digest(self):
        """The digest of what every network is measured on (each distribution, the noisy
        images' settings): outputs stored for other inputs are computed again."""
        inputs = {f"{name}:{part}": getattr(d, part) for name, d in self.distributions.items()
                  for part in ("images", "labels")}
        if self.config.eval.noise_images:
            eval_config = self.config.eval
            inputs.update({"noise:images": self.noise_images[: eval_config.noise_images],
                           "noise:eps": evaluate.noise_levels(eval_config),
                           "noise:std": np.asarray(self.std, np.float64),
                           "noise:draws_seed": np.array([eval_config.noise_draws,
                                                         eval_config.corruption_seed])})
        return storage.arrays_digest(inputs)

    def _sources(self, parent):
        """What a network's outputs are derived from besides its own file."""
        sources = {"test inputs": self.inputs_digest}
        if parent is not None:
            sources["parent outputs"] = storage.arrays_digest(parent)
        return sources

    def _measure(self, logits_of, parent):
        result = evaluate.outputs(logits_of, self.distributions, reference=parent)
        if self.config.eval.noise_images:
            result["noise:pred"] = evaluate.noise_predictions(
                logits_of, self.noise_images, self.std, self.config.eval,
                self.config.eval.corruption_seed)
        return result

    def __call__(self, network_id, checkpoint, parent=None, tflite=True, method=None):
        """`parent`: the parent's Keras outputs (None when evaluating the parent itself);
        `method`: the pruning method of the network (None for unpruned ones). The Keras
        outputs are float32's; eval.precision adds the same network's under that policy."""
        def keras_outputs(policy=precision.FLOAT32):
            model = precision.with_policy(storage.load_model(checkpoint), policy)
            batch_size = self.config.eval.batch_size
            return self._measure(lambda x: evaluate.predict_logits(model, x, batch_size), parent)

        def required(versus_parent):
            return evaluate.required_keys(self.distributions, versus_parent,
                                          self.config.eval.noise_images)

        sources = dict(self._sources(parent), checkpoint=storage.file_digest(checkpoint))
        outputs = evaluate.cached_outputs(
            workdir.predictions(self.run_dir, network_id), keras_outputs,
            required(parent is not None), sources, self.log)
        policy = self.config.eval.precision
        by_policy = {}
        if policy != precision.FLOAT32:
            by_policy[policy] = evaluate.cached_outputs(
                workdir.predictions(self.run_dir, network_id, policy=policy),
                lambda: keras_outputs(policy), required(parent is not None), sources, self.log)
        exported = {}
        if tflite and self.config.export.tflite:
            exported = tflite_evaluation.export_and_evaluate(
                network_id, checkpoint, method is not None and methods.get(method).structured,
                self.run_dir, self.config.export,
                tflite_evaluation.representative_images(self.train_images, self.config.seed),
                lambda logits_of: self._measure(logits_of, parent or outputs), required(True),
                self._sources(parent or outputs), self.fine_tuning,
                parent_id=None if parent is None else workdir.PARENT, log=self.log)
        return dict(outputs=outputs, export=exported, eval_precision=by_policy)


def _refuse_untrained(config, nominal, classes, outputs, parent_path):
    """A parent at chance level (no training, a diverged one) makes every prune potential
    meaningless: stop before pruning it. A user's model at chance that is not with batch
    statistics carries moving statistics that do not fit its weights (a BatchNormalization
    momentum too slow for the steps it was trained), which its preprocessing cannot fix."""
    labels = nominal.labels
    accuracy = metrics.accuracy(outputs["nominal:pred"], labels)
    ceiling = metrics.chance_ceiling(classes, len(labels))
    if accuracy <= ceiling and config.model.path:
        batch_logits = evaluate.logits_with_batch_statistics(
            storage.load_model(parent_path), nominal.images, config.eval.batch_size)
        batch_accuracy = metrics.accuracy(batch_logits.argmax(axis=-1), labels)
        if batch_accuracy > ceiling:
            raise errors.ConfigError(
                f"config.model.path={config.model.path}: nominal accuracy {accuracy:.1%} is "
                f"chance level for {classes} classes, but {batch_accuracy:.1%} with its "
                "BatchNormalization on batch statistics: its moving statistics do not fit "
                "its weights; recompute them (a training-mode pass over training images) or "
                "set model.train_parent=True; with --fresh")
        raise errors.ConfigError(
            f"config.model.path={config.model.path}: nominal accuracy {accuracy:.1%} is "
            f"chance level for {classes} classes; the model gets raw 0..255 pixels (put its "
            "preprocessing in the model), or set model.train_parent=True; with --fresh")
    if accuracy <= metrics.chance_ceiling(classes, len(labels)):
        raise errors.TrainingError(
            f"parent: nominal accuracy {accuracy:.1%} is chance level for {classes} "
            f"classes ({len(labels)} test images), so no prune potential "
            f"would mean anything; train it longer (train.epochs={config.train.epochs}) or "
            f"with another train.lr (now {config.train.lr}), with --fresh")


def _log_scalars(run_dir, method, step, scalars):
    """Per-cycle scalars (accuracy, prune potential so far, sparsity) in TensorBoard,
    beside TF-MOT's pruning summaries, so that a run can be watched as it proceeds."""
    writer = tf.summary.create_file_writer(workdir.tensorboard(run_dir, method, "cycles"))
    with writer.as_default():
        for tag, value in scalars.items():
            tf.summary.scalar(tag, value, step=step)
    writer.close()


def _log_samples(run_dir, distributions):
    """The first test images of every distribution, to see what the networks are tested on."""
    writer = tf.summary.create_file_writer(workdir.tensorboard(run_dir, "samples"))
    with writer.as_default():
        for name, distribution in distributions.items():
            tf.summary.image(f"samples/{name}", distribution.images[:4], max_outputs=4, step=0)
    writer.close()


def _record(path):
    """A finished stage's record; an unreadable one is refused in one line (the stage is
    redone: its checkpoint is not trusted without it)."""
    record_path = workdir.record(path)
    try:
        record = storage.read_json(record_path)
        problem = None if isinstance(record, dict) else "not a JSON object"
    except (OSError, ValueError) as error:
        problem = storage.reason(error)
    if problem:
        raise errors.WorkdirError(f"{record_path} is unreadable ({problem}); delete it and "
                                  f"{path} to redo that stage, then rerun the same command")
    return record


def run(config, run_dir, log=print, only_method=None):
    """Run (or continue) the whole pipeline of `config` in `run_dir`; returns results.

    `only_method`: this one of the config's methods alone, as one unit of a sweep
    (tfprune.sweep): its results go to `workdir.results(run_dir, only_method)`, no report."""
    config_lib.validate(config)
    if config.seeds:
        raise errors.ConfigError(
            f"config.seeds={tuple(config.seeds)} lists repetitions; run them with python -m "
            "tfprune.run (tfprune.sweep), or one with --workdir=<its seed-<s> folder>")
    strategy_lib.get(config.train.strategy)  # before any TensorFlow op (multi_worker)
    if not strategy_lib.is_chief():
        workdir.check(config, run_dir, config_lib.base())
        return _train_as_worker(config, run_dir, log, only_method)
    workdir.check(config, run_dir, config_lib.base())
    started = time.time()
    dataset = data.load(config.data, config.seed)
    log(f"data: {dataset.source}; train {len(dataset.train_labels)}, "
        f"validation {len(dataset.val_labels)}, test {len(dataset.test_labels)}")
    distributions, unavailable = distributions_lib.build(
        dataset, config.eval, config.data, workdir.cache_dir(run_dir, config.eval.cache_dir), log)
    _check_user_network(config, dataset, run_dir)
    # Recorded once its inputs are ready: a data.dir typo leaves no run to move aside.
    workdir.prepare(config, run_dir, config_lib.base())
    _log_samples(run_dir, distributions)
    evaluator = _Evaluator(config, run_dir, distributions, dataset, log)
    parent_path = _train_network(config, dataset, run_dir, log, workdir.PARENT, config.seed,
                                 only_method)
    parent = dict(params=_record(parent_path)["params"],
                  **evaluator(workdir.PARENT, parent_path))
    if config.eval.stop_at_chance_parent:
        _refuse_untrained(config, distributions["nominal"], dataset.num_classes,
                          parent["outputs"], parent_path)
    reference = None
    if config.eval.reference_network:
        reference_path = _train_network(config, dataset, run_dir, log, workdir.REFERENCE,
                                        config.seed + 1, only_method)
        reference = evaluator(workdir.REFERENCE, reference_path, parent["outputs"], tflite=False)
    control = None
    if config.eval.control_network:
        control_path = _train_network(config, dataset, run_dir, log, workdir.CONTROL,
                                      config.seed + 1, only_method, start=parent_path)
        control = evaluator(workdir.CONTROL, control_path, parent["outputs"])
    networks = []
    for method in _methods(config, only_method):
        parent_accuracy = results_lib.accuracies(parent["outputs"], distributions)
        _log_scalars(run_dir, method, 0, dict(
            prune_ratio=0.0, **{f"accuracy/{d}": a for d, a in parent_accuracy.items()}))
        curve = []
        for cycle in cascade.run(method, parent_path, dataset, config, run_dir, log):
            record = _record(cycle.path)
            evaluated = evaluator(cycle.network_id, cycle.path, parent["outputs"], method=method)
            accuracy = results_lib.accuracies(evaluated["outputs"], distributions)
            curve.append(dict(prune_ratio=record["prune_ratio"], accuracy=accuracy))
            potential = results_lib.prune_potentials(curve, parent_accuracy, config.eval.delta)
            _log_scalars(run_dir, method, cycle.index, dict(
                prune_ratio=record["prune_ratio"],
                **{f"accuracy/{d}": a for d, a in accuracy.items()},
                **{f"prune_potential/{d}": p for d, p in potential.items()},
                **{f"layer_sparsity/{n}": v for n, v in record["layer_sparsity"].items()}))
            networks.append(dict(method=method, record=record, **evaluated))
    header = dict(config=json.loads(config.to_json()), dataset=dataset.summary(),
                  distributions={name: dict(source=d.source, size=len(d.labels))
                                 for name, d in distributions.items()},
                  unavailable=unavailable,
                  precision=_record(parent_path).get("precision"))  # train.precision's choice
    if _record(parent_path).get("source"):  # model.path, model.builder
        header["parent_source"] = _record(parent_path)["source"]
    noise = None
    if config.eval.noise_images:
        noise = dict(eps=[float(e) for e in evaluate.noise_levels(config.eval)],
                     labels=dataset.test_labels[: config.eval.noise_images])
    declared = {m: methods.get(m).declaration(config.prune) for m in _methods(config, only_method)}
    results = results_lib.build(header, distributions, parent, networks, declared,
                                config.eval.delta, config.eval.groups, reference=reference,
                                noise=noise, control=control,
                                excess_error_groups=config.eval.excess_error_groups)
    results["wall_seconds_this_invocation"] = time.time() - started
    measured = devices.stored_devices(run_dir, results, log)  # merged before by export.merge
    if measured:
        results["devices"] = measured
    storage.write_json(workdir.results(run_dir, only_method), results)
    log(tables.table(results))
    log(f"\nresults: {workdir.results(run_dir, only_method)}; "
        f"report: {report.write_report(run_dir) if not only_method else 'by the sweep merge'}; "
        f"tensorboard --logdir {workdir.tensorboard(run_dir)}")
    return results


def _check_user_network(config, dataset, run_dir):
    """The user's network (model.path, model.builder) loaded and checked before the run is
    recorded: a bad one leaves no run to move aside. A parent made from a model.path whose
    file changed since is refused."""
    if not (config.model.path or config.model.builder):
        return
    parent = workdir.checkpoint(run_dir, workdir.PARENT)
    if storage.exists(parent) and storage.exists(workdir.record(parent)):
        if config.model.path:
            user_models.check_unchanged(config.model.path, _record(parent), parent)
        return
    _network_for(config, dataset, config.seed, log=lambda _: None)


def _methods(config, only_method):
    """The methods this run prunes with: the config's, or a sweep unit's one."""
    return [only_method] if only_method else config_lib.methods_of(config.prune)


def _train_as_worker(config, run_dir, log, only_method):
    """A non-chief worker of multi_worker training trains every network with the chief,
    in the same order (their collective ops pair up), reading which stages are finished
    from the chief's workdir; evaluation, results and report are the chief's alone."""
    dataset = data.load(config.data, config.seed)
    parent_path = _train_network(config, dataset, run_dir, log, workdir.PARENT, config.seed,
                                 only_method)
    if config.eval.reference_network:
        _train_network(config, dataset, run_dir, log, workdir.REFERENCE, config.seed + 1,
                       only_method)
    if config.eval.control_network:
        _train_network(config, dataset, run_dir, log, workdir.CONTROL, config.seed + 1,
                       only_method, start=parent_path)
    for method in _methods(config, only_method):
        for _ in cascade.run(method, parent_path, dataset, config, run_dir, log):
            pass


def _unfinished(config, run_dir):
    """What a run lacks to be finished: the networks of its config without a checkpoint
    and record, and results.json."""
    cycles = len(config_lib.target_ratios(config.prune))
    networks = [workdir.PARENT] + [workdir.REFERENCE] * bool(config.eval.reference_network)
    networks += [workdir.cycle_id(method, index) for method in config_lib.methods_of(config.prune)
                 for index in range(1, cycles + 1)]
    missing = [network for network in networks if not all(
        storage.exists(path) for path in (workdir.checkpoint(run_dir, network),
                                          workdir.record(workdir.checkpoint(run_dir, network))))]
    return missing + ["results.json"] * (not storage.exists(workdir.results(run_dir)))


def run_stored(run_dir, variants=None, **export_keys):
    """Continue the finished run stored in `run_dir`, with TFLite export on (in `variants`,
    when given, else in the run's export.variants), and the given `export` keys (None: the
    run's). An unfinished run is refused: exporting would first train what it lacks."""
    config = workdir.stored_config(run_dir, config_lib.base())
    missing = [] if config.seeds else _unfinished(config, run_dir)
    if missing:
        raise errors.WorkdirError(
            f"{run_dir} holds an unfinished run (it lacks {', '.join(missing[:3])}"
            f"{f' and {len(missing) - 3} more' if len(missing) > 3 else ''}); finish it first "
            "with the tfprune.run command that started it (the same --config and "
            f"--workdir={run_dir}; a sharded sweep: every --shard, then --merge), then rerun "
            "this command")
    config.export.tflite = True
    if variants:
        config.export.variants = tuple(variants)
    config.export.update({key: value for key, value in export_keys.items() if value is not None})
    return run(config, run_dir)
