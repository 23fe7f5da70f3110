"""The printed tables of a run's results.json: accuracy and prune potential per method
(with the control network and censoring), bf16 evaluation's agreement, and the TFLite
files; `aligned` lays out any table as text."""
from tfprune import verdicts


def table(results):
    """One table per method: a row per distribution, accuracy (%) at each prune ratio."""
    lines = []
    parent = results["parent"]["accuracy"]
    control = results.get("control")
    for method, summary in results["methods"].items():
        cycles = summary["cycles"]
        tflite = summary["export"].get("float32", {}).get("prune_potential", {})
        censored = summary.get("censored", {})
        ratio_headers = [f"{c['prune_ratio']:.0%}" for c in cycles]
        header = ["distribution", "parent", *["control"] * bool(control), *ratio_headers,
                  "PP keras", *["PP control"] * bool(control), "PP tflite"]

        def potential(value, name):
            return f"{'>=' * bool(censored.get(name))}{value:.1%}"

        rows = [[name + " *" * (name in (control or {}).get("not_converged", ())),
                 f"{100 * parent[name]:.1f}",
                 *([f"{100 * control['accuracy'][name]:.1f}"] if control else []),
                 *(f"{100 * c['accuracy'][name]:.1f}" for c in cycles),
                 potential(summary["prune_potential"][name], name),
                 *([f"{summary['prune_potential_vs_control'][name]:.1%}"] if control else []),
                 f"{tflite[name]:.1%}" if name in tflite else "n/a"] for name in parent]
        if all(c.get("excess_error") is not None for c in cycles):
            rows.append(["excess error", "", *[""] * bool(control),
                         *(f"{100 * c['excess_error']:+.1f}" for c in cycles),
                         "", *[""] * bool(control), ""])
        groups = results.get("excess_error_groups") or {}
        lines.append(f"\n{method}: accuracy (%) by prune ratio; prune potential (PP) at "
                     f"delta = {results['delta']} points; excess error (points): "
                     f"{groups.get('test')} vs {groups.get('train')}")
        lines += aligned([header, *rows])
        for group, group_potential in summary["group_prune_potential"].items():
            lines.append(f"  group {group}: PP mean {group_potential['mean']:.1%}, "
                         f"min {group_potential['min']:.1%}")
        if any(censored.values()):
            lines.append("  >= : the largest tested ratio still passes; the potential may be "
                         "larger (test higher ratios)")
    if results["parent"].get("at_chance"):
        lines += ["", *verdicts.at_chance_lines(results["parent"]["accuracy"],
                                                results["parent"]["at_chance"])]
    if control:
        lines += ["", *verdicts.not_converged_lines(control["gain_over_parent"], results["delta"],
                                                    control.get("gain_standard_error"))]
        if control["not_converged"]:
            lines.append("  (* in the tables; compare PP control, against the control network)")
    lines += _precision_lines(results)
    if results.get("export"):
        lines += _export_tables(results)
    return "\n".join(lines)


def _precision_lines(results):
    """eval.precision's check: the lowest top-1 agreement with float32 over every network
    and distribution, and the largest accuracy change, per policy."""
    networks = [("parent", results["parent"])] + [
        (f"{m} {c['prune_ratio']:.0%}", c) for m, s in results["methods"].items()
        for c in s["cycles"]]
    lines = []
    for policy in results["parent"].get("eval_precision", {}):
        lowest = min((entry["eval_precision"][policy]["agreement_with_float32"][d], name, d)
                     for name, entry in networks if policy in entry.get("eval_precision", {})
                     for d in entry["accuracy"])
        change = max(abs(entry["eval_precision"][policy]["accuracy"][d] - entry["accuracy"][d])
                     for _, entry in networks if policy in entry.get("eval_precision", {})
                     for d in entry["accuracy"])
        lines.append(f"\nKeras under {policy}: top-1 agreement with float32 at least "
                     f"{lowest[0]:.2%} ({lowest[1]}, {lowest[2]}); accuracy moves at most "
                     f"{100 * change:.2f} points (the tables are float32)")
    return lines


def aligned(rows):
    """Rows of cells as text lines: the first column left-aligned, the others right
    (every printed table of tfprune: results, sweeps, device results)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]


def _export_tables(results):
    """Keras vs exported prune potential per method, distribution and variant; then each
    file's size, latency and speed-up over the parent."""
    lines = []
    for method, summary in results["methods"].items():
        exported = summary["export"]
        if not exported:
            continue
        rows = [["distribution", "keras", *exported]]
        for name, potential in summary["prune_potential"].items():
            rows.append([name, f"{potential:.1%}", *(
                f"{v['prune_potential'][name]:.1%}"
                + ("*" if name in v["differs_by_more_than_a_step"] else " ")
                for v in exported.values())])
        lines.append(f"\n{method}: prune potential Keras vs TFLite, per distribution and "
                     f"variant (delta = {results['delta']} points; * = more than one prune "
                     "step from Keras)")
        lines += aligned(rows)
        lines.append("  conclusion holds: " + "; ".join(
            f"{variant} " + ("yes" if v["conclusion_holds"] else
                             f"no ({', '.join(v['differs_by_more_than_a_step'])})")
            for variant, v in exported.items()))
    networks = [("parent", results["parent"])] + [
        (f"{method} {c['prune_ratio']:.0%}", c)
        for method, summary in results["methods"].items() for c in summary["cycles"]]
    rows = [["network", "variant", "KB", "gzip KB", "params", "agree min", "b1 ms", "b1 p90",
             "b64 ms/img", "speed-up b1", "speed-up b64", "FLOP red.", "tiled", "delegate"]]
    for name, network in networks:
        for variant, entry in network["export"].items():
            latency = entry.get("latency") or {}
            speedup = entry.get("speedup_vs_parent") or {}
            rows.append([name, variant, f"{entry['size_bytes'] / 1024:.1f}",
                         f"{entry['gzip_bytes'] / 1024:.1f}", f"{entry['params']:,}",
                         f"{min(entry['agreement_with_keras'].values()):.1%}",
                         *(f"{latency[b][k]:.3f}" if b in latency else "n/a"
                           for b, k in (("batch_1", "median_ms"), ("batch_1", "p90_ms"),
                                        ("batch_64", "median_ms"))),
                         *(f"{speedup[b]:.2f}x" if b in speedup else "" for b in
                           ("batch_1", "batch_64")),
                         *(f"{entry[key]:.2f}x" if entry.get(key) else ""
                           for key in ("flop_reduction", "tiled_flop_reduction")),
                         "xnnpack" if entry["delegate"].startswith("default") else "builtin"])
    lines.append("\nTFLite files: size, top-1 agreement with Keras (lowest over the "
                 "distributions), latency per image (median; p90) at batch 1 and 64, "
                 "speed-up over the parent's file of the same variant, beside the FLOP "
                 "reduction (parent's multiply-accumulates over the network's; tiled: "
                 "counted in the runtime's tiles of export.output_tile output channels)")
    lines += aligned(rows)
    kept = [(entry["pruned_zeros_kept"], name, variant) for name, network in networks
            for variant, entry in network["export"].items()
            if entry.get("pruned_zeros_kept") is not None]
    if kept:  # export.pqat: the fine-tuned files' check that the pruning pattern survived
        lowest = min(kept)
        lines.append(f"  pruned zeros still zero in the file: at least {lowest[0]:.1%} "
                     f"({lowest[1]}, {lowest[2]})")
    return lines
