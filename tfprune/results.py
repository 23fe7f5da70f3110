"""results.json: built from the networks' stored outputs alone, and its printed table.

Schema (version 1). Accuracies, errors and ECE are fractions; prune ratios are
fractions of all parent parameters removed; delta is in percentage points; {dist} is a
mapping from distribution name to value:
  config, dataset, delta, distributions: {name: {source, size}},
  unavailable: {name: reason}, groups: {group: [dist]},
  parent: {params, accuracy, ece, nll: {dist}, tflite, noise: {eps, accuracy}},
  reference (a separately trained unpruned network, when configured): {accuracy, ece, nll,
    agreement_with_parent, softmax_l2_to_parent, softmax_linf_to_parent: {dist},
    noise: {eps, accuracy, agreement}},
  methods: {name: {
    cycles: [{index, target_ratio, prune_ratio, params_total, params_nonzero,
              layer_sparsity: {layer: fraction zero}, train_seconds,
              accuracy, ece, nll, agreement_with_parent, softmax_l2_to_parent,
              softmax_linf_to_parent, excess_error: {dist}, tflite}],
    prune_potential: {dist}, tflite_prune_potential: {dist} (when exported),
    seconds (pruning and retraining time of all cycles),
    prune_potential_by_delta: {delta: {dist}},
    group_prune_potential: {group: {mean, min}},
    excess_error_slope: {dist},
    noise (when measured): {eps, accuracy: [[per eps] per cycle],
                            agreement: [[per eps] per cycle], prune_potential: [per eps]}}}
  tflite (or null) = {file, size_bytes, delegate, accuracy, ece, nll,
                      agreement_with_keras, softmax_l2_to_parent: {dist}}.
"""
import fnmatch

from tfprune import metrics
from tfprune.distributions import NOMINAL

SCHEMA_VERSION = 1
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


def _measures(outputs, distributions):
    return dict(accuracy=accuracies(outputs, distributions),
                ece=_scalars(outputs, "ece", distributions),
                nll=_scalars(outputs, "nll", distributions))


def _comparison(outputs, parent_outputs, distributions):
    """How far a network's function is from the parent's, per distribution."""
    return dict(agreement_with_parent={d: metrics.agreement(outputs[f"{d}:pred"],
                                                            parent_outputs[f"{d}:pred"])
                                       for d in distributions},
                softmax_l2_to_parent=_scalars(outputs, "l2", distributions),
                softmax_linf_to_parent=_scalars(outputs, "linf", distributions))


def _noise(outputs, parent_outputs, noise):
    """Accuracy and agreement with the parent per noise level (mean over draws, images)."""
    predictions = outputs["noise:pred"]
    result = dict(eps=noise["eps"],
                  accuracy=[float(v) for v in (predictions == noise["labels"]).mean(axis=(1, 2))])
    if parent_outputs is not None:
        result["agreement"] = [float(v) for v in
                               (predictions == parent_outputs["noise:pred"]).mean(axis=(1, 2))]
    return result


def _tflite_entry(tflite, keras_outputs, distributions):
    if tflite is None:
        return None
    outputs = tflite["outputs"]
    return dict(file=tflite["file"], size_bytes=tflite["size_bytes"], delegate=tflite["delegate"],
                **_measures(outputs, distributions),
                agreement_with_keras={d: metrics.agreement(outputs[f"{d}:pred"],
                                                           keras_outputs[f"{d}:pred"])
                                      for d in distributions},
                softmax_l2_to_parent=_scalars(outputs, "l2", distributions))


def prune_potentials(cycles, parent_accuracy, delta):
    """{distribution: prune potential} over cycles holding prune_ratio and accuracy."""
    ratios = [c["prune_ratio"] for c in cycles]
    return {name: metrics.prune_potential(ratios, [1 - c["accuracy"][name] for c in cycles],
                                          1 - parent_accuracy[name], delta)
            for name in parent_accuracy}


def build(header, distributions, parent, networks, delta, group_specs=(), reference=None,
          noise=None):
    """`parent`, `reference` and each of `networks` hold `outputs` (see evaluate.outputs) and
    `tflite` (or None); a network also holds its method and its cycle record. `noise`
    holds the noise levels and the labels of the noisy images, when measured."""
    parent_outputs = parent["outputs"]
    parent_measures = _measures(parent_outputs, distributions)
    parent_accuracy = parent_measures["accuracy"]
    groups = parse_groups(group_specs, distributions)
    results = dict(header, schema_version=SCHEMA_VERSION, delta=delta, groups=groups,
                   parent=dict(params=parent["params"], **parent_measures,
                               tflite=_tflite_entry(parent["tflite"], parent_outputs,
                                                    distributions)),
                   methods={})
    if noise:
        results["parent"]["noise"] = _noise(parent_outputs, None, noise)
    if reference:
        results["reference"] = dict(**_measures(reference["outputs"], distributions),
                                    **_comparison(reference["outputs"], parent_outputs,
                                                  distributions))
        if noise:
            results["reference"]["noise"] = _noise(reference["outputs"], parent_outputs, noise)
    for network in networks:
        outputs = network["outputs"]
        measures = _measures(outputs, distributions)
        error = {d: 1 - a for d, a in measures["accuracy"].items()}
        parent_error = {d: 1 - a for d, a in parent_accuracy.items()}
        record = {k: v for k, v in network["record"].items() if k != "history"}
        record.update(
            measures, **_comparison(outputs, parent_outputs, distributions),
            excess_error={d: metrics.excess_error(error[d], error[NOMINAL], parent_error[d],
                                                  parent_error[NOMINAL]) for d in distributions},
            tflite=_tflite_entry(network["tflite"], outputs, distributions))
        if noise:
            record["noise"] = _noise(outputs, parent_outputs, noise)
        results["methods"].setdefault(network["method"], dict(cycles=[]))["cycles"].append(record)
    for summary in results["methods"].values():
        cycles = summary["cycles"]
        ratios = [c["prune_ratio"] for c in cycles]
        summary["prune_potential"] = prune_potentials(cycles, parent_accuracy, delta)
        summary["seconds"] = sum(c.get("train_seconds", 0.0) for c in cycles)
        summary["prune_potential_by_delta"] = {
            str(d): prune_potentials(cycles, parent_accuracy, d) for d in DELTAS}
        summary["group_prune_potential"] = {
            group: dict(mean=sum(summary["prune_potential"][d] for d in members) / len(members),
                        min=min(summary["prune_potential"][d] for d in members))
            for group, members in groups.items() if members}
        if all(c["tflite"] for c in cycles) and results["parent"]["tflite"]:
            summary["tflite_prune_potential"] = prune_potentials(
                [dict(c, accuracy=c["tflite"]["accuracy"]) for c in cycles],
                results["parent"]["tflite"]["accuracy"], delta)
        summary["excess_error_slope"] = {
            d: metrics.zero_intercept_slope(ratios, [c["excess_error"][d] for c in cycles])
            for d in distributions}
        if noise:
            parent_noise = results["parent"]["noise"]["accuracy"]
            summary["noise"] = dict(
                eps=noise["eps"], accuracy=[c["noise"]["accuracy"] for c in cycles],
                agreement=[c["noise"]["agreement"] for c in cycles],
                prune_potential=[metrics.prune_potential(
                    ratios, [1 - c["noise"]["accuracy"][i] for c in cycles],
                    1 - parent_noise[i], delta) for i in range(len(noise["eps"]))])
    return results


def table(results):
    """One table per method: a row per distribution, accuracy (%) at each prune ratio."""
    lines = []
    parent = results["parent"]["accuracy"]
    for method, summary in results["methods"].items():
        cycles = summary["cycles"]
        tflite = summary.get("tflite_prune_potential", {})
        ratio_headers = [f"{c['prune_ratio']:.0%}" for c in cycles]
        header = ["distribution", "parent", *ratio_headers, "PP keras", "PP tflite"]
        rows = [[name, f"{100 * parent[name]:.1f}",
                 *(f"{100 * c['accuracy'][name]:.1f}" for c in cycles),
                 f"{summary['prune_potential'][name]:.1%}",
                 f"{tflite[name]:.1%}" if name in tflite else "n/a"] for name in parent]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines.append(f"\n{method}: accuracy (%) by prune ratio; prune potential (PP) at "
                     f"delta = {results['delta']} points")
        for row in [header, *rows]:
            lines.append("  ".join(cell.rjust(w) if i else cell.ljust(w)
                                   for i, (cell, w) in enumerate(zip(row, widths))))
        for group, potential in summary["group_prune_potential"].items():
            lines.append(f"  group {group}: PP mean {potential['mean']:.1%}, "
                         f"min {potential['min']:.1%}")
    return "\n".join(lines)
