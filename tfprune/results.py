"""results.json: built from the networks' predictions alone, and its printed table.

Schema (version 1); accuracies and errors are fractions, prune ratios are fractions of
all parent parameters removed, delta is in percentage points:
  config, dataset, delta, distributions: {name: {source}},
  parent: {params, accuracy: {dist}, tflite: {...}},
  methods: {name: {cycles: [{index, target_ratio, prune_ratio, params_nonzero,
                             layer_sparsity, train_seconds, accuracy, agreement_with_parent,
                             excess_error, tflite}],
                   prune_potential: {dist}, tflite_prune_potential: {dist},
                   excess_error_slope: {dist}}}
  where tflite = {file, size_bytes, delegate, accuracy: {dist}, agreement_with_keras: {dist}}.
"""
from tfprune import metrics
from tfprune.evaluate import NOMINAL

SCHEMA_VERSION = 1


def _accuracies(predictions, labels):
    return {name: metrics.accuracy(p, labels) for name, p in predictions.items()}


def _tflite_entry(tflite, keras_predictions, labels):
    if tflite is None:
        return None
    return dict(file=tflite["file"], size_bytes=tflite["size_bytes"],
                delegate=tflite["delegate"],
                accuracy=_accuracies(tflite["predictions"], labels),
                agreement_with_keras={name: metrics.agreement(p, keras_predictions[name])
                                      for name, p in tflite["predictions"].items()})


def _potentials(cycles, parent_accuracy, delta):
    ratios = [c["prune_ratio"] for c in cycles]
    return {name: metrics.prune_potential(ratios, [1 - c["accuracy"][name] for c in cycles],
                                          1 - parent_accuracy[name], delta)
            for name in parent_accuracy}


def build(header, labels, parent, networks, delta):
    """`parent` and each of `networks` hold predictions {dist: labels} and tflite (or None);
    a network also holds its method and its cycle record."""
    parent_accuracy = _accuracies(parent["predictions"], labels)
    results = dict(header, schema_version=SCHEMA_VERSION, delta=delta,
                   parent=dict(params=parent["params"], accuracy=parent_accuracy,
                               tflite=_tflite_entry(parent["tflite"], parent["predictions"],
                                                    labels)),
                   methods={})
    for network in networks:
        accuracy = _accuracies(network["predictions"], labels)
        error, parent_error = ({d: 1 - a for d, a in acc.items()}
                               for acc in (accuracy, parent_accuracy))
        record = dict(network["record"])
        record.pop("history", None)
        record.update(
            accuracy=accuracy,
            agreement_with_parent={d: metrics.agreement(p, parent["predictions"][d])
                                   for d, p in network["predictions"].items()},
            excess_error={d: metrics.excess_error(error[d], error[NOMINAL], parent_error[d],
                                                  parent_error[NOMINAL]) for d in error},
            tflite=_tflite_entry(network["tflite"], network["predictions"], labels))
        results["methods"].setdefault(network["method"], dict(cycles=[]))["cycles"].append(record)
    for summary in results["methods"].values():
        cycles = summary["cycles"]
        summary["prune_potential"] = _potentials(cycles, parent_accuracy, delta)
        if all(c["tflite"] for c in cycles) and results["parent"]["tflite"]:
            summary["tflite_prune_potential"] = _potentials(
                [dict(c, accuracy=c["tflite"]["accuracy"]) for c in cycles],
                results["parent"]["tflite"]["accuracy"], delta)
        summary["excess_error_slope"] = {
            d: metrics.zero_intercept_slope([c["prune_ratio"] for c in cycles],
                                            [c["excess_error"][d] for c in cycles])
            for d in parent_accuracy}
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
    return "\n".join(lines)
