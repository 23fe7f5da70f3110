"""The on-device half of the evaluation kit (see export/bundle.py): re-run the check on the
edge device itself, where TensorFlow does not fit.

    python3 runner.py [KIT_DIR] --threads 4 --out device_results.json

Needs Python 3.9+, numpy and a TFLite interpreter: ai-edge-litert or, where it has no
wheel, its predecessor tflite-runtime (whichever imports; the results say which). It
verifies the kit's checksums, evaluates every model on every distribution in batches with
the kit's copy of export/litert.py (the host's own evaluation code, so both compute the
same thing), times each model at batch 1 (a pruned network in interleaved rounds with
its parent's file of the same variant, for its speed-up here), and rewrites --out
atomically after each model: rerun the same command after an interruption and it
continues with the next model.

It never imports tfprune or TensorFlow; export.bundle and export.merge import it for the
kit's formats and checksums.
"""
import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
import types

import numpy as np

KIT_FORMAT = "tfprune-device-kit/1"
RESULTS_FORMAT = "tfprune-device-results/1"
MANIFEST = "manifest.json"
EVALUATION_MODULE = "litert.py"  # export/litert.py, shipped next to this file
BATCH_SIZE = 64  # export/litert.py's default, which the host's evaluation used
# Settings that must not change when an interrupted run is continued.
SETTINGS = ("device", "threads", "batch_size", "latency_runs", "latency_warmup", "interpreter")


class KitError(Exception):
    """An unusable kit or results file; the message is one line that names the fix."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def predictions_digest(predictions):
    """sha256 of top-1 labels as int32: equal digests mean identical predictions."""
    return hashlib.sha256(np.ascontiguousarray(predictions, dtype="<i4").tobytes()).hexdigest()


def read_json(path, what, fix):
    try:
        with open(path) as stream:
            return json.load(stream)
    except OSError as error:
        raise KitError(f"{path}: cannot read the {what} ({error.strerror}); {fix}") from error
    except ValueError as error:
        raise KitError(f"{path}: the {what} is not valid JSON ({error}); {fix}") from error


def write_json(path, payload):
    """Write JSON atomically (tfprune.storage is not on the device)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read_manifest(kit_dir):
    manifest = read_json(os.path.join(kit_dir, MANIFEST), "kit manifest",
                         "KIT_DIR must be an unpacked kit (tar xzf kit.tar.gz)")
    if manifest.get("format") != KIT_FORMAT:
        raise KitError(f"{os.path.join(kit_dir, MANIFEST)}: format {manifest.get('format')!r}, "
                       f"this runner reads {KIT_FORMAT}; run the runner.py shipped in that kit")
    return manifest


def verify(kit_dir, manifest):
    """Every file the manifest lists is present and has its checksum."""
    for name, digest in sorted(manifest["files"].items()):
        path = os.path.join(kit_dir, name)
        if not os.path.isfile(path):
            raise KitError(f"{path} is missing from the kit; copy the whole kit again")
        if sha256_of(path) != digest:
            raise KitError(f"{path}: checksum mismatch (the file was changed or damaged in "
                           "transfer); copy the kit again")


def load_evaluation(kit_dir):
    """The kit's litert.py on whichever interpreter imports, and {package, version}."""
    try:
        from ai_edge_litert import interpreter  # noqa: F401
        package = "ai-edge-litert"
    except ImportError:
        try:
            import tflite_runtime.interpreter as interpreter
        except ImportError:
            raise KitError("no TFLite interpreter: neither ai_edge_litert nor tflite_runtime "
                           "imports; pip install ai-edge-litert (or tflite-runtime)") from None
        # tflite-runtime has ai-edge-litert's Interpreter API under its older name:
        # let litert.py's `from ai_edge_litert import interpreter` find it.
        alias = types.ModuleType("ai_edge_litert")
        alias.interpreter = interpreter
        sys.modules.update({"ai_edge_litert": alias, "ai_edge_litert.interpreter": interpreter})
        package = "tflite-runtime"
    spec = importlib.util.spec_from_file_location("litert",
                                                  os.path.join(kit_dir, EVALUATION_MODULE))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, dict(package=package, version=interpreter_version(package))


def interpreter_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        module = sys.modules.get(package.replace("-", "_"))
        return str(getattr(module, "__version__", "unknown"))


def cpu_model():
    """The CPU's name: /proc/cpuinfo on Linux (x86 'model name'; ARM boards 'Model' or
    'Hardware'), else what the platform module says."""
    try:
        with open("/proc/cpuinfo") as stream:
            fields = {}
            for line in stream:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        fields = {}
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        if fields.get(key):
            return fields[key]
    return platform.processor() or platform.machine()


def load_distribution(kit_dir, entry):
    """(uint8 images, labels) of one distribution of the kit (never unpickled)."""
    path = os.path.join(kit_dir, entry["file"])
    with np.load(path, allow_pickle=False) as stored:
        images, labels = stored["images"], stored["labels"]
    if images.dtype != np.uint8 or len(images) != len(labels):
        raise KitError(f"{path}: not uint8 images with one label each; build the kit again "
                       "with python -m export.bundle")
    return images, labels


def evaluate_model(litert, kit_dir, model, distributions, settings, parent=None):
    """Accuracy and prediction digest per distribution, and batch-1 latency, of one model;
    a pruned network is timed together with `parent` (the kit's parent file of the same
    variant), as the host times it, for its speed-up on this device."""
    started = time.time()
    path = os.path.join(kit_dir, model["file"])
    interpreter = litert.TFLiteModel(path, threads=settings["threads"],
                                     batch_size=settings["batch_size"])
    accuracy, digests = {}, {}
    for entry in distributions:
        images, labels = load_distribution(kit_dir, entry)
        predictions = interpreter.predict(images)
        accuracy[entry["name"]] = float(np.mean(predictions == labels))
        digests[entry["name"]] = predictions_digest(predictions)
    latency = parent_latency = speedup = None
    if settings["latency_runs"]:
        files = [path] + ([os.path.join(kit_dir, parent["file"])] if parent else [])
        latency, *paired = litert.interleaved_latency(
            files, settings["threads"], 1, settings["latency_runs"], settings["latency_warmup"])
        if paired:
            parent_latency = paired[0]
            speedup = parent_latency["median_ms"] / latency["median_ms"]
    expected = model["expected"]
    return dict(network=model["network"], variant=model["variant"], sha256=model["sha256"],
                delegate=interpreter.delegate, accuracy=accuracy, predictions_sha256=digests,
                identical_to_host={d: digests[d] == expected["predictions_sha256"][d]
                                   for d in digests},
                host_accuracy={d: expected["accuracy"][d] for d in accuracy},
                host_latency=expected.get("latency"), latency=latency,
                parent_latency=parent_latency, speedup_vs_parent=speedup,
                seconds=time.time() - started)


def _continued(out, kit_id, settings):
    """The models already in `out` when it holds this kit's results with these settings."""
    if not os.path.exists(out):
        return {}
    previous = read_json(out, "results file", "delete it or choose another --out")
    if previous.get("format") != RESULTS_FORMAT or previous.get("kit_id") != kit_id:
        raise KitError(f"{out} holds results of another kit; choose another --out (or delete "
                       "it to start over)")
    changed = [k for k in SETTINGS if previous["settings"].get(k) != settings[k]]
    if changed:
        raise KitError(f"{out} was measured with other settings ({', '.join(changed)}); rerun "
                       "with the same options to continue it, or choose another --out")
    return previous["models"]


def run(kit_dir, out, threads, device, latency_runs=None, latency_warmup=None, log=print):
    """Evaluate every model of the kit not yet in `out`; returns the results."""
    manifest = read_manifest(kit_dir)
    verify(kit_dir, manifest)
    litert, interpreter = load_evaluation(kit_dir)
    host = manifest["host"]
    settings = dict(
        device=device, threads=threads, batch_size=BATCH_SIZE, interpreter=interpreter,
        latency_runs=host["latency_runs"] if latency_runs is None else latency_runs,
        latency_warmup=host["latency_warmup"] if latency_warmup is None else latency_warmup)
    kit_id = sha256_of(os.path.join(kit_dir, MANIFEST))
    models = _continued(out, kit_id, settings)
    results = dict(
        format=RESULTS_FORMAT, kit_id=kit_id, run=manifest["run"], settings=settings,
        device=dict(name=device, platform=platform.platform(), machine=platform.machine(),
                    cpu=cpu_model(), cores=os.cpu_count(), python=platform.python_version(),
                    numpy=np.__version__, interpreter=interpreter),
        distributions=[d["name"] for d in manifest["distributions"]], models=models)
    log(f"{device}: {len(manifest['models'])} models x {len(manifest['distributions'])} "
        f"distributions on {interpreter['package']} {interpreter['version']}, "
        f"{threads} threads" + (f"; {len(models)} models done before, kept" if models else ""))
    parents = {m["variant"]: m for m in manifest["models"] if m["network"] == "parent"}
    for model in manifest["models"]:
        if model["id"] in models:
            continue
        parent = parents.get(model["variant"]) if model["network"] != "parent" else None
        if parent and "error" in models.get(parent["id"], {}):
            parent = None  # this interpreter cannot run the parent: time the network alone
        try:
            done = evaluate_model(litert, kit_dir, model, manifest["distributions"], settings,
                                  parent)
        except litert.TFLiteError as error:  # e.g. an op this interpreter version lacks
            done = dict(network=model["network"], variant=model["variant"],
                        sha256=model["sha256"], error=str(error))
            log(f"{model['id']}: not evaluated: {error}")
        models[model["id"]] = done
        write_json(out, results)
        if "error" not in done:
            first, latency = results["distributions"][0], done["latency"]
            log(f"{model['id']}: {first} accuracy {done['accuracy'][first]:.2%}, predictions "
                f"identical to the host's on {sum(done['identical_to_host'].values())} of "
                f"{len(done['identical_to_host'])} distributions"
                + (f", batch-1 latency {latency['median_ms']:.3f} ms" if latency else "")
                + (f" ({done['speedup_vs_parent']:.2f}x the parent's speed)"
                   if done["speedup_vs_parent"] else "")
                + f" ({done['seconds']:.1f} s)")
    write_json(out, results)
    log(f"results: {out}; bring it back and run python -m export.merge --workdir RUN_DIR {out}")
    return results


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kit_dir", nargs="?", default=here,
                        help="the unpacked kit (default: this file's directory)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="interpreter threads (default: all cores)")
    parser.add_argument("--out", default="device_results.json",
                        help="results file; rerun with the same --out to continue")
    parser.add_argument("--device", default=platform.node() or "device",
                        help="the device's name in the merged results (default: host name)")
    parser.add_argument("--latency-runs", type=int, default=None,
                        help="timed batch-1 invokes per model (default: the host's; 0 = none)")
    parser.add_argument("--latency-warmup", type=int, default=None,
                        help="untimed invokes before timing (default: the host's)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        run(args.kit_dir, args.out, args.threads, args.device, args.latency_runs,
            args.latency_warmup)
    except KitError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"\ninterrupted; rerun the same command to continue from {args.out}",
              file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
