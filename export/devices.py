"""A device's results (export/runner.py) folded back into the run its kit was built from
(`python -m export.merge`).

Results of a kit from another run (another parent checkpoint, see export.bundle), or of
files exported again since the kit was built, are refused. Accepted results are kept as
WORKDIR/devices/<device>.json and folded into results.json under devices.<device>
(atomically; tfprune.run folds them again when it rewrites results.json). Then, per
method, distribution and variant, the prune potential as Keras, TFLite on this host and
TFLite on the device compute it, flagging where the conclusion changes: potentials more
than one prune step apart, the rule results.json's export summary uses; then batch-1
latencies, and each pruned network's speed-up over its parent on the host and on the
device beside its FLOP reduction.
"""
import hashlib
import os

from export import runner
from tfprune import errors, storage, tables, workdir
from tfprune import results as results_lib


def sha256_of(path):
    """runner.sha256_of for a file of the workdir, which may be on any tf.io.gfile path."""
    return hashlib.sha256(storage.read_bytes(path)).hexdigest()


def run_fingerprint(run_dir):
    """sha256 of the run's parent checkpoint: every network of a run descends from it,
    and another run, even of the same config, trains another parent."""
    path = workdir.checkpoint(run_dir, workdir.PARENT)
    if not storage.exists(path):
        raise errors.ConfigError(f"{path} is missing; --workdir must be a tfprune.run "
                                 "workdir whose parent is trained")
    return sha256_of(path)


def load(path):
    try:
        device_results = runner.read_json(path, "device results",
                                          "bring back the --out file of runner.py")
    except runner.KitError as error:
        raise errors.ConfigError(str(error)) from error
    if device_results.get("format") != runner.RESULTS_FORMAT:
        raise errors.ConfigError(f"{path}: not results of runner.py (format "
                                 f"{device_results.get('format')!r}, expected "
                                 f"{runner.RESULTS_FORMAT}); pass the file its --out wrote")
    return device_results


def check_same_run(run_dir, device_results, path):
    """Refuse results of another run's kit, or of files exported again since."""
    fingerprint = run_fingerprint(run_dir)
    run = device_results["run"]
    if run["fingerprint"] != fingerprint:
        raise errors.ConfigError(
            f"{path} comes from a kit of another run ({run['name']}, parent "
            f"{run['fingerprint'][:12]}), not of {run_dir} (parent {fingerprint[:12]}); "
            "merge it into the workdir its kit was built from")
    files = workdir.tflite_files(run_dir)
    for model in device_results["models"].values():
        local = files.get((model["network"], model["variant"]))
        if local is None or sha256_of(local) != model["sha256"]:
            raise errors.ConfigError(
                f"{path}: {model['network']}.{model['variant']}.tflite is no longer the file "
                f"of {run_dir} that the kit packed (exported again since); build a new kit "
                "with python -m export.bundle and run it again")


def fold(results, device_results):
    """results.json's entry for one device: what it is, per network and variant what it
    measured, and per method and variant the prune potentials on the device and (from the
    kit's expected figures) on the host, where the device ran the parent and every cycle."""
    networks = {}
    for model in device_results["models"].values():
        networks.setdefault(model["network"], {})[model["variant"]] = {
            k: v for k, v in model.items() if k not in ("network", "variant", "predictions_sha256")}
    variants = sorted({v for measured in networks.values() for v in measured})
    potentials, incomplete = {}, {}
    for method, summary in results["methods"].items():
        cycles = summary["cycles"]
        ids = [workdir.PARENT, *(workdir.cycle_id(method, c["index"]) for c in cycles)]
        for variant in variants:
            measured = [networks.get(i, {}).get(variant, {}) for i in ids]
            missing = [i for i, m in zip(ids, measured) if "accuracy" not in m]
            if missing:
                incomplete.setdefault(method, {})[variant] = missing
                continue
            potentials.setdefault(method, {})[variant] = {
                where: results_lib.prune_potentials(
                    [dict(c, accuracy=m[key]) for c, m in zip(cycles, measured[1:])],
                    measured[0][key], results["delta"])
                for where, key in (("device", "accuracy"), ("host", "host_accuracy"))}
    return dict(device=device_results["device"], settings=device_results["settings"],
                run=device_results["run"], distributions=device_results["distributions"],
                networks=networks, prune_potential=potentials, incomplete=incomplete)


def table(results, device):
    """Prune potentials Keras / host TFLite / device TFLite, then batch-1 latencies."""
    entry = results["devices"][device]
    lines = []
    for method, by_variant in entry["prune_potential"].items():
        keras = results["methods"][method]["prune_potential"]
        steps = results_lib.prune_steps(results["methods"][method]["cycles"])
        rows = [["distribution", "variant", "Keras", "TFLite host", "TFLite device", "flag"]]
        for name in entry["distributions"]:
            for variant, potential in by_variant.items():
                host, on_device = potential["host"][name], potential["device"][name]
                flag = ("conclusion changes on the device"
                        if results_lib.more_than_a_step_apart(on_device, host, steps) else
                        "conclusion changes with TFLite"
                        if results_lib.more_than_a_step_apart(host, keras[name], steps) else
                        "device differs from host" if on_device != host else "")
                rows.append([name, variant, f"{keras[name]:.1%}", f"{host:.1%}",
                             f"{on_device:.1%}", flag])
        lines.append(f"\n{method}: prune potential at delta = {results['delta']} points: "
                     f"Keras / TFLite on this host / TFLite on device {device!r} (conclusion "
                     "changes: more than one prune step apart)")
        lines += tables.aligned(rows)
    for method, by_variant in entry["incomplete"].items():
        for variant, missing in by_variant.items():
            lines.append(f"{method} {variant}: no device prune potential (not evaluated on the "
                         f"device: {', '.join(missing)})")
    networks = entry["networks"]
    variants = sorted({v for measured in networks.values() for v in measured})
    rows = [["network", *variants]]
    for network, measured in networks.items():
        cells = []
        for variant in variants:
            record = measured.get(variant, {})
            host, on_device = record.get("host_latency"), record.get("latency")
            cells.append((f"{host['median_ms']:.3f}" if host else "n/a") + " / " +
                         (f"{on_device['median_ms']:.3f}" if on_device else "n/a"))
        rows.append([network, *cells])
    identical = [same for measured in networks.values() for record in measured.values()
                 for same in record.get("identical_to_host", {}).values()]
    device_info = entry["device"]
    lines.append(f"\nlatency at batch 1, ms per image (median): this host / {device!r} "
                 f"({device_info['cpu']}, {entry['settings']['threads']} threads, "
                 f"{device_info['interpreter']['package']} "
                 f"{device_info['interpreter']['version']})")
    lines += tables.aligned(rows)
    lines.append(f"predictions identical to this host's: {sum(identical)} of {len(identical)} "
                 "(file, distribution) pairs")
    lines += _speedup_table(results, networks, variants, device)
    return "\n".join(lines)


def _speedup_table(results, networks, variants, device):
    """Lines: each pruned network's batch-1 speed-up over the parent's file of the same
    variant on this host and on the device, beside its FLOP reduction: the runtime's
    kernels, which differ between CPUs, decide how much of the reduction is speed."""
    exported = {workdir.cycle_id(method, c["index"]): c.get("export") or {}
                for method, summary in results["methods"].items() for c in summary["cycles"]}
    rows = [["network", *variants, "FLOP red.", "tiled"]]
    for network, measured in networks.items():
        if network not in exported:
            continue
        on_host = exported[network]
        cells = []
        for variant in variants:
            host = ((on_host.get(variant) or {}).get("speedup_vs_parent") or {}).get("batch_1")
            on_device = measured.get(variant, {}).get("speedup_vs_parent")
            cells.append((f"{host:.2f}x" if host else "n/a") + " / " +
                         (f"{on_device:.2f}x" if on_device else "n/a"))
        facts = next((entry for entry in on_host.values() if entry.get("flop_reduction")), {})
        rows.append([network, *cells, *(f"{facts[k]:.2f}x" if facts.get(k) else "n/a"
                                        for k in ("flop_reduction", "tiled_flop_reduction"))])
    if len(rows) == 1:
        return []
    return [f"\nspeed-up over the parent's file of the same variant at batch 1: this host / "
            f"{device!r}, beside the FLOP reduction (parent's multiply-accumulates over the "
            "network's; tiled: in the host's export.output_tile)", *tables.aligned(rows)]


def stored_devices(run_dir, results, log=print):
    """{device: entry} folded from WORKDIR/devices/ (results whose files are still the
    run's; others are left out with a note)."""
    devices = {}
    folder = workdir.devices_dir(run_dir)
    for path in [os.path.join(folder, name) for name in storage.listdir(folder)
                 if name.endswith(".json")]:
        try:
            device_results = load(path)
            check_same_run(run_dir, device_results, path)
        except errors.ConfigError as error:
            log(f"devices: left out: {error}")
            continue
        devices[device_results["device"]["name"]] = fold(results, device_results)
    return devices


def merge(run_dir, paths, log=print):
    """Fold each device results file into the run's results.json; returns the results."""
    path = workdir.results(run_dir)
    try:
        results = storage.read_json(path)
    except (OSError, ValueError) as error:
        raise errors.ConfigError(f"{path} is missing or unreadable ({error}); finish the "
                                 "run first (python -m tfprune.run)") from error
    checked = []
    for device_path in paths:
        device_results = load(device_path)
        check_same_run(run_dir, device_results, device_path)
        checked.append(device_results)
    for device_results in checked:
        name = device_results["device"]["name"]
        storage.write_json(workdir.device_results(run_dir, name), device_results)
        results.setdefault("devices", {})[name] = fold(results, device_results)
    storage.write_json(path, results)
    for device_results in checked:
        log(table(results, device_results["device"]["name"]))
    log(f"\nresults: {path} (devices: {', '.join(results['devices'])})")
    return results
