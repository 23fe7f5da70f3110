"""results.json: built from the networks' stored outputs alone (printed by tfprune.tables).

Schema (version 2). Accuracies, errors and ECE are fractions; prune ratios are
fractions of all parent parameters removed; delta is in percentage points; {dist} is a
mapping from distribution name to value:
  config, dataset, delta, distributions: {name: {source, size}},
  unavailable: {name: reason}, groups: {group: [dist]},
  corruption_params: {dist: the parameter set its corruption was made with, cifar10 |
    tinyimagenet | imagenet (tfprune.corruptions.parameters)} for corrupted distributions,
  excess_error_groups: {train, test} (the groups the per-network excess error compares),
  parent: {params, accuracy, ece, nll: {dist}, export, noise: {eps, accuracy},
    derived_from},
  reference (a separately trained unpruned network, when configured): {accuracy, ece, nll,
    agreement_with_parent, softmax_l2_to_parent, softmax_linf_to_parent: {dist},
    noise: {eps, accuracy, agreement}, derived_from},
  methods: {name: {
    structured, needs_data, colour, knobs: {knob: value} (the method's declaration,
      tfprune.methods),
    cycles: [{index, target_ratio, prune_ratio, params_total, params_nonzero,
              layer_sparsity: {layer: fraction zero}, train_seconds,
              accuracy, ece, nll, agreement_with_parent, softmax_l2_to_parent,
              softmax_linf_to_parent,
              excess_error (the study's: mean error over the test group minus the mean
                over the train group, minus the parent's same difference; null without
                both groups),
              excess_error_by_distribution: {dist} (the shift from nominal to dist),
              export, derived_from}],
    prune_potential: {dist},
    censored: {dist: bool} (the potential is the largest tested ratio: a lower bound),
    prune_potential_vs_control: {dist} (against the control network, when configured),
    export (per variant exported for the parent and every cycle): {variant: {
      prune_potential: {dist} (of the exported files, against the exported parent),
      differs_by_more_than_a_step: [dist] (Keras and exported prune potentials more than
        one prune step apart; steps: 0 and the cycles' prune ratios),
      conclusion_holds: no such distribution}},
    seconds (pruning and retraining time of all cycles),
    prune_potential_by_delta: {delta: {dist}},
    group_prune_potential: {group: {mean, min}},
    excess_error_slope (of excess_error; null without it),
    excess_error_slope_by_distribution: {dist},
    noise (when measured): {eps, accuracy: [[per eps] per cycle],
                            agreement: [[per eps] per cycle],
                            prune_potential: [per eps] (per noise draw, averaged over
                              the draws, as the reference)}}}
  export = {variant: file entry} per network (export.variants.VARIANTS), file entry =
    {file, size_bytes, gzip_bytes, delegate, params and macs (per image) of the converted
     Keras model (the physically shrunk one for structured methods; dense counts),
     tiled_macs (output channels rounded up to a multiple of output_tile, as the runtime
     computes them; tfprune.flops), latency (or null): {batch_1, batch_64: {median_ms,
     p90_ms} per image}, parent_latency (cycles; or null): the parent's file of the same
     variant, timed in the same interleaved rounds,
     accuracy, ece, nll, agreement_with_keras, softmax_l2_to_parent,
     softmax_linf_to_parent: {dist} (the output metrics: tfprune.metrics.OUTPUT_METRICS),
     and for cycles: speedup_vs_parent (or null): {batch_1, batch_64} (parent_latency's
     median over the cycle's), flop_reduction (the parent's macs over
     the cycle's), tiled_flop_reduction (the same with tiled_macs), derived_from;
     pqat_int8 also pruned_zeros, pruned_zeros_kept (or null), pqat_history: export.pqat},
    derived_from (every network and file entry) = {predictions file (relative to the
      workdir): SHA-256 of its outputs (storage.arrays_digest, write times aside)}: the
      file the entry was computed from; results.stale_inputs lists those that changed.
  export (top level; null when nothing was exported) = {variants: [variant],
    conclusion_holds: {variant: bool (for every method)}}.
  devices (once export.merge brought results of a kit back) = {device name: {
    device: {name, platform, machine, cpu, cores, python, numpy, interpreter: {package,
      version}}, settings: {threads, batch_size, latency_runs, latency_warmup, ...},
    run: {name, fingerprint}, distributions: [dist],
    networks: {network: {variant: {sha256, delegate, accuracy, host_accuracy,
      identical_to_host: {dist}, latency, host_latency: {median_ms, p90_ms} at batch 1,
      parent_latency (cycles; or null): the kit's parent file of the same variant, timed
      on the device in the same interleaved rounds, speedup_vs_parent (or null): its
      median over the network's, seconds} (or {sha256, error} where the device could not
      run the file)}},
    prune_potential: {method: {variant: {device, host: {dist}}}},
    incomplete: {method: {variant: [networks the device did not evaluate]}}}}.
"""
import fnmatch

import numpy as np

from tfprune import metrics, storage, verdicts, workdir

SCHEMA_VERSION = 2
# The clean test set's name among the distributions, the yardstick of every other.
NOMINAL = "nominal"
DELTAS = (-10, -5, -2, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 2, 5, 10)


def parse_groups(specs, distributions):
    """'name=pattern,pattern' specs -> {name: [matching distributions]} (fnmatch patterns)."""
    groups = {}
    for spec in specs:
        name, _, patterns = spec.partition("=")
        groups[name.strip()] = [d for d in distributions
                                if any(fnmatch.fnmatchcase(d, p.strip()) for p in patterns.split(","))]
    return groups


def _scalars(outputs, key, distributions):
    return {d: float(outputs[f"{d}:{key}"]) for d in distributions if f"{d}:{key}" in outputs}


def accuracies(outputs, distributions):
    """{distribution: top-1 accuracy} of a network's stored outputs."""
    return {d: metrics.accuracy(outputs[f"{d}:pred"], distributions[d].labels)
            for d in distributions}


def _output_metrics(outputs, distributions, versus_parent):
    """{name: {dist: value}} of the output metrics of the network itself, or versus the
    parent (metrics.OUTPUT_METRICS)."""
    return {m.name: _scalars(outputs, m.key, distributions)
            for m in metrics.OUTPUT_METRICS if m.versus_parent == versus_parent}


def _measures(outputs, distributions):
    return dict(accuracy=accuracies(outputs, distributions),
                **_output_metrics(outputs, distributions, versus_parent=False))


def _comparison(outputs, parent_outputs, distributions):
    """How far a network's function is from the parent's, per distribution."""
    return dict(agreement_with_parent={d: metrics.agreement(outputs[f"{d}:pred"],
                                                            parent_outputs[f"{d}:pred"])
                                       for d in distributions},
                **_output_metrics(outputs, distributions, versus_parent=True))


def _noise_accuracy(outputs, noise):
    """Accuracy per noise level and draw, (eps, draws), over the noisy images."""
    return (outputs["noise:pred"] == noise["labels"]).mean(axis=2)


def _noise(outputs, parent_outputs, noise):
    """Accuracy and agreement with the parent per noise level (mean over draws, images)."""
    predictions = outputs["noise:pred"]
    result = dict(eps=noise["eps"],
                  accuracy=[float(v) for v in _noise_accuracy(outputs, noise).mean(axis=1)])
    if parent_outputs is not None:
        result["agreement"] = [float(v) for v in
                               (predictions == parent_outputs["noise:pred"]).mean(axis=(1, 2))]
    return result


def _derived_from(network_id, outputs, variant=None):
    """{predictions file (relative to the workdir): storage.arrays_digest of its outputs}:
    what a results entry was computed from."""
    return {workdir.predictions("", network_id, variant): storage.arrays_digest(outputs)}


def _control(control, parent_accuracy, parent_outputs, distributions, delta):
    """The control network's entry: its measures, its gain over the parent (points) and
    the distributions the gain flags (verdicts.inflated)."""
    outputs = control["outputs"]
    measures = _measures(outputs, distributions)
    gains = verdicts.control_gains(measures["accuracy"], parent_accuracy)
    errors = {d: verdicts.paired_standard_error(
        outputs[f"{d}:pred"] == distributions[d].labels,
        parent_outputs[f"{d}:pred"] == distributions[d].labels) for d in gains}
    return dict(**measures, **_comparison(outputs, parent_outputs, distributions),
                gain_over_parent=gains, gain_standard_error=errors,
                not_converged=verdicts.inflated(gains, delta, errors),
                export=_export_entries(control["export"], outputs, distributions,
                                       workdir.CONTROL),
                derived_from=_derived_from(workdir.CONTROL, outputs))


def _eval_precision(by_policy, outputs, distributions):
    """{policy: accuracy and top-1 agreement with float32 per distribution} of a network
    evaluated under other Keras policies too (eval.precision)."""
    return {policy: dict(accuracy=accuracies(other, distributions),
                         agreement_with_float32={
                             d: metrics.agreement(other[f"{d}:pred"], outputs[f"{d}:pred"])
                             for d in distributions})
            for policy, other in by_policy.items()}


def stale_inputs(run_dir, results):
    """The predictions files of `results`' derived_from records (anywhere in the tree) that
    are missing or hold other outputs now, each as "<file> (<why>)"."""
    found = []
    if isinstance(results, list):
        return [stale for item in results for stale in stale_inputs(run_dir, item)]
    if not isinstance(results, dict):
        return found
    for key, value in results.items():
        if key != "derived_from":
            found += stale_inputs(run_dir, value)
            continue
        for name, digest in value.items():
            stored = storage.load_arrays(f"{run_dir}/{name}", ())
            if stored is None:
                found.append(f"{name} (missing or unreadable)")
            elif storage.arrays_digest(storage.split_sources(stored)[0]) != digest:
                found.append(f"{name} (changed since results.json was built)")
    return found


def _export_entries(exported, keras_outputs, distributions, network_id):
    """{variant: file entry}: each exported file's facts, and how its outputs compare to
    the Keras network's."""
    entries = {}
    for variant, file in exported.items():
        outputs = file["outputs"]
        entries[variant] = dict(
            {k: v for k, v in file.items() if k != "outputs"}, **_measures(outputs, distributions),
            derived_from=_derived_from(network_id, outputs, variant),
            agreement_with_keras={d: metrics.agreement(outputs[f"{d}:pred"],
                                                       keras_outputs[f"{d}:pred"])
                                  for d in distributions},
            **_output_metrics(outputs, distributions, versus_parent=True))
    return entries


def _versus_parent(entry, parent_entry):
    """Speed-up (the parent's median time per image over the network's, per timed batch
    size, both timed in the same interleaved rounds) and FLOP reduction (the parent's
    multiply-accumulates over the network's, nominal and as the runtime's tiles count
    them)."""
    latency, parent_latency = entry.get("latency"), entry.get("parent_latency")
    speedup = None
    if latency and parent_latency:
        speedup = {batch: parent_latency[batch]["median_ms"] / timing["median_ms"]
                   for batch, timing in latency.items()}
    reduction = {f"{prefix}flop_reduction": parent_entry[key] / entry[key]
                 if entry.get(key) and parent_entry.get(key) else None
                 for prefix, key in (("", "macs"), ("tiled_", "tiled_macs"))}
    return dict(speedup_vs_parent=speedup, **reduction)


def prune_steps(cycles):
    """The prune ratios a prune potential can take: 0 and each cycle's."""
    return sorted({0.0, *(c["prune_ratio"] for c in cycles)})


def more_than_a_step_apart(potential, other, steps):
    """Whether two prune potentials of one curve draw different conclusions: they lie
    more than one prune step apart (neighbouring steps are within measurement noise)."""
    return abs(steps.index(potential) - steps.index(other)) > 1


def _export_summary(cycles, parent_export, variant, keras_potential, delta):
    """A variant's prune potentials, and where they leave Keras's by more than one step."""
    potential = prune_potentials([dict(c, accuracy=c["export"][variant]["accuracy"])
                                  for c in cycles], parent_export[variant]["accuracy"], delta)
    steps = prune_steps(cycles)
    differs = [d for d in potential
               if more_than_a_step_apart(potential[d], keras_potential[d], steps)]
    return dict(prune_potential=potential, differs_by_more_than_a_step=differs,
                conclusion_holds=not differs)


def noise_prune_potentials(ratios, accuracies, parent_accuracy, delta):
    """Prune potential per noise level: per draw (the same noisy inputs for every
    network), then the mean over the draws, as the reference computes it.
    `accuracies`: per cycle (eps, draws); `parent_accuracy`: (eps, draws)."""
    levels, draws = parent_accuracy.shape
    return [float(np.mean([metrics.prune_potential(
        ratios, [1 - a[level, draw] for a in accuracies], 1 - parent_accuracy[level, draw],
        delta) for draw in range(draws)])) for level in range(levels)]


def prune_potentials(cycles, parent_accuracy, delta):
    """{distribution: prune potential} over cycles holding prune_ratio and accuracy."""
    ratios = [c["prune_ratio"] for c in cycles]
    return {name: metrics.prune_potential(ratios, [1 - c["accuracy"][name] for c in cycles],
                                          1 - parent_accuracy[name], delta)
            for name in parent_accuracy}


def build(header, distributions, parent, networks, declarations, delta, group_specs=(),
          reference=None, noise=None, excess_error_groups=("nominal", "corrupted"),
          control=None):
    """`parent`, `reference` and each of `networks` hold `outputs` (see evaluate.outputs) and
    `export` ({variant: file}); a network also holds its method and its cycle record.
    `declarations`: {method: what it declares of itself (tfprune.methods)}, for every
    method of `networks`; `noise` holds the noise levels and the labels of the noisy
    images, when measured; `excess_error_groups`: the (train, test) group names of
    `group_specs` that the per-network excess error compares; `control`: the control
    network (tfprune.verdicts), evaluated as `parent`."""
    parent_outputs = parent["outputs"]
    parent_measures = _measures(parent_outputs, distributions)
    parent_accuracy = parent_measures["accuracy"]
    groups = parse_groups(group_specs, distributions)
    train_group, test_group = (groups.get(name, []) for name in excess_error_groups)
    parent_error = {d: 1 - a for d, a in parent_accuracy.items()}
    noise_accuracy = {}  # per method, per cycle: (eps, draws)
    parent_export = _export_entries(parent["export"], parent_outputs, distributions,
                                    workdir.PARENT)
    results = dict(header, schema_version=SCHEMA_VERSION, delta=delta, groups=groups,
                   corruption_params={name: d.corruption_params for name, d in
                                      distributions.items() if d.corruption_params},
                   excess_error_groups=dict(zip(("train", "test"), excess_error_groups)),
                   parent=dict(params=parent["params"], **parent_measures, export=parent_export,
                               derived_from=_derived_from(workdir.PARENT, parent_outputs),
                               eval_precision=_eval_precision(
                                   parent.get("eval_precision", {}), parent_outputs,
                                   distributions)),
                   methods={method: dict(declaration, cycles=[])
                            for method, declaration in declarations.items()})
    classes = header.get("dataset", {}).get("num_classes")
    results["parent"]["at_chance"] = [] if classes is None else verdicts.at_chance(
        parent_accuracy, classes, {d: len(distributions[d].labels) for d in parent_accuracy})
    if noise:
        results["parent"]["noise"] = _noise(parent_outputs, None, noise)
    if reference:
        results["reference"] = dict(**_measures(reference["outputs"], distributions),
                                    **_comparison(reference["outputs"], parent_outputs,
                                                  distributions),
                                    derived_from=_derived_from(workdir.REFERENCE,
                                                               reference["outputs"]))
        if noise:
            results["reference"]["noise"] = _noise(reference["outputs"], parent_outputs, noise)
    if control:
        results["control"] = _control(control, parent_accuracy, parent_outputs, distributions,
                                      delta)
    for network in networks:
        outputs = network["outputs"]
        measures = _measures(outputs, distributions)
        error = {d: 1 - a for d, a in measures["accuracy"].items()}
        record = {k: v for k, v in network["record"].items() if k != "history"}
        network_id = workdir.cycle_id(network["method"], record["index"])
        exported = _export_entries(network["export"], outputs, distributions, network_id)
        for variant, entry in exported.items():
            if variant in parent_export:
                entry.update(_versus_parent(entry, parent_export[variant]))
        record.update(
            measures, **_comparison(outputs, parent_outputs, distributions),
            excess_error=metrics.group_excess_error(error, parent_error, train_group,
                                                    test_group),
            excess_error_by_distribution={
                d: metrics.excess_error(error[d], error[NOMINAL], parent_error[d],
                                        parent_error[NOMINAL]) for d in distributions},
            export=exported, derived_from=_derived_from(network_id, outputs),
            eval_precision=_eval_precision(network.get("eval_precision", {}), outputs,
                                           distributions))
        if noise:
            record["noise"] = _noise(outputs, parent_outputs, noise)
            noise_accuracy.setdefault(network["method"], []).append(
                _noise_accuracy(outputs, noise))
        results["methods"][network["method"]]["cycles"].append(record)
    for method, summary in results["methods"].items():
        cycles = summary["cycles"]
        ratios = [c["prune_ratio"] for c in cycles]
        summary["prune_potential"] = prune_potentials(cycles, parent_accuracy, delta)
        summary["censored"] = verdicts.censored(summary["prune_potential"], ratios)
        if control:
            summary["prune_potential_vs_control"] = prune_potentials(
                cycles, results["control"]["accuracy"], delta)
        summary["seconds"] = sum(c.get("train_seconds", 0.0) for c in cycles)
        summary["prune_potential_by_delta"] = {
            str(d): prune_potentials(cycles, parent_accuracy, d) for d in DELTAS}
        summary["group_prune_potential"] = {
            group: dict(mean=sum(summary["prune_potential"][d] for d in members) / len(members),
                        min=min(summary["prune_potential"][d] for d in members))
            for group, members in groups.items() if members}
        summary["export"] = {
            variant: _export_summary(cycles, parent_export, variant,
                                     summary["prune_potential"], delta)
            for variant in parent_export if all(variant in c["export"] for c in cycles)}
        summary["excess_error_slope"] = (
            metrics.zero_intercept_slope(ratios, [c["excess_error"] for c in cycles])
            if train_group and test_group else None)
        summary["excess_error_slope_by_distribution"] = {
            d: metrics.zero_intercept_slope(
                ratios, [c["excess_error_by_distribution"][d] for c in cycles])
            for d in distributions}
        if noise:
            summary["noise"] = dict(
                eps=noise["eps"], accuracy=[c["noise"]["accuracy"] for c in cycles],
                agreement=[c["noise"]["agreement"] for c in cycles],
                prune_potential=noise_prune_potentials(
                    ratios, noise_accuracy.get(method, []),
                    _noise_accuracy(parent_outputs, noise), delta))
    results["export"] = export_overview(results)
    return results


def export_overview(results):
    """The top-level `export` entry from the parent's and the methods' (None when nothing
    was exported); tfprune.sweep rebuilds it when it merges methods run apart."""
    variants, summaries = list(results["parent"]["export"]), results["methods"].values()
    return dict(
        variants=variants,
        conclusion_holds={variant: all(s["export"][variant]["conclusion_holds"] for s in summaries)
                          for variant in variants if all(variant in s["export"] for s in summaries)}
    ) if variants else None
