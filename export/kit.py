"""An evaluation kit: what an edge device needs to re-run a finished run's check itself
(`python -m export.bundle`).

The kit is one .tar.gz holding one directory (named after --out) with
- models/: the run's exported .tflite files, every variant found in WORKDIR/tflite
  (<network>.<variant>.tflite), or the --variants named;
- data/<distribution>.npz: the test images (uint8) and labels of each chosen distribution,
  compressed, rebuilt with the run's own config, code and corruption cache, so they are
  exactly the images the host evaluated;
- manifest.json: the run's name and fingerprint (export.merge refuses results of another
  run), the models, variants and distributions, the host's accuracies, prediction digests
  and latencies to expect, and the sha256 of every file;
- runner.py (export/runner.py) and litert.py (export/litert.py, the evaluation it runs):
  numpy and a TFLite interpreter are all the device needs.
"""
import datetime
import glob
import hashlib
import json
import os
import platform
import shutil
import tarfile
import tempfile

import numpy as np

from export import devices, runner
from tfprune import config as config_lib
from tfprune import data, errors, metrics, storage, workdir
from tfprune import distributions as distributions_lib

EXPORT_DIR = os.path.dirname(os.path.abspath(__file__))


def _chosen(requested, available, flag):
    if not requested:
        return list(available)
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise errors.ConfigError(f"--{flag}: {unknown[0]!r} is not in the run; "
                                 f"available: {', '.join(available)}")
    return [name for name in available if name in requested]


def _expected(run_dir, network, variant, distributions):
    """What the host measured for one file: accuracy and prediction digest per
    distribution (from its cached predictions), and its batch-1 latency if timed."""
    path = workdir.predictions(run_dir, network, variant)
    stored = storage.load_arrays(path, [f"{d}:pred" for d in distributions])
    if stored is None:
        raise errors.ConfigError(
            f"{path} is missing or lacks some distributions; evaluate the exported files "
            f"first: python -m export.tflite --workdir {run_dir} --variants {variant}")
    try:
        facts = storage.read_json(workdir.tflite_facts(run_dir, network, variant))
        latency = (facts.get("latency") or {}).get("batch_1")
    except (OSError, ValueError):
        latency = None  # not timed on the host
    return dict(accuracy={d: metrics.accuracy(stored[f"{d}:pred"], distributions[d].labels)
                          for d in distributions},
                predictions_sha256={d: runner.predictions_digest(stored[f"{d}:pred"])
                                    for d in distributions},
                latency=latency)


def _kit_name(out):
    name = os.path.basename(out)
    for suffix in (".tar.gz", ".tgz"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def build(run_dir, out, variants=None, distribution_names=None, log=print):
    """Write the kit of the run in `run_dir` to `out` (atomically; either may be a
    tf.io.gfile path); returns its manifest."""
    if storage.isdir(out):
        raise errors.ConfigError(f"--out={out} is a folder; name the kit file to write, e.g. "
                                 f"--out={os.path.join(out, 'kit.tar.gz')}")
    config = workdir.stored_config(run_dir, config_lib.base())
    fingerprint = devices.run_fingerprint(run_dir)
    files = workdir.tflite_files(run_dir)
    if not files:
        raise errors.ConfigError(f"{run_dir} holds no exported .tflite files; export first: "
                                 f"python -m export.tflite --workdir {run_dir}")
    chosen_variants = _chosen(variants, sorted({v for _, v in files}), "variants")
    contents = {key: storage.read_bytes(path) for key, path in files.items()
                if key[1] in chosen_variants}
    dataset = data.load(config.data, config.seed)
    available, _ = distributions_lib.build(
        dataset, config.eval, config.data, workdir.cache_dir(run_dir, config.eval.cache_dir), log)
    distributions = {name: available[name] for name in
                     _chosen(distribution_names, list(available), "distributions")}
    host = dict(platform=platform.platform(), cpu=runner.cpu_model(),
                interpreter=dict(package="ai-edge-litert",
                                 version=runner.interpreter_version("ai-edge-litert")),
                threads=config.export.threads, latency_runs=config.export.latency_runs,
                latency_warmup=config.export.latency_warmup)
    manifest = dict(
        format=runner.KIT_FORMAT,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        run=dict(name=os.path.basename(os.path.abspath(run_dir)), fingerprint=fingerprint,
                 dataset=config.data.name, model=config.model.name),
        host=host, variants=chosen_variants,
        networks=list(dict.fromkeys(n for n, v in files if v in chosen_variants)),
        distributions=[dict(name=name, file=f"data/{name}.npz", size=len(d.labels),
                            source=d.source) for name, d in distributions.items()],
        models=[dict(id=f"{network}.{variant}", network=network, variant=variant,
                     file=f"models/{network}.{variant}.tflite",
                     sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content),
                     expected=_expected(run_dir, network, variant, distributions))
                for (network, variant), content in contents.items()])
    with tempfile.TemporaryDirectory() as staging:
        kit = os.path.join(staging, _kit_name(out))
        os.makedirs(os.path.join(kit, "data"))
        os.makedirs(os.path.join(kit, "models"))
        for entry in manifest["distributions"]:
            distribution = distributions[entry["name"]]
            np.savez_compressed(os.path.join(kit, entry["file"]),
                                images=np.asarray(distribution.images, np.uint8),
                                labels=np.asarray(distribution.labels))
        for model in manifest["models"]:
            with open(os.path.join(kit, model["file"]), "wb") as stream:
                stream.write(contents[(model["network"], model["variant"])])
        for module in ("runner.py", runner.EVALUATION_MODULE):
            shutil.copyfile(os.path.join(EXPORT_DIR, module), os.path.join(kit, module))
        manifest["files"] = {
            os.path.relpath(path, kit): runner.sha256_of(path)
            for path in sorted(glob.glob(os.path.join(kit, "**", "*"), recursive=True))
            if os.path.isfile(path)}
        with open(os.path.join(kit, runner.MANIFEST), "w") as stream:
            json.dump(manifest, stream, indent=2)
        archive = os.path.join(staging, "kit.tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(kit, arcname=os.path.basename(kit))
        size_bytes = os.path.getsize(archive)
        storage.publish(archive, out)
    name = _kit_name(out)
    log(f"kit: {out} ({size_bytes / 1e6:.1f} MB): {len(manifest['models'])} models "
        f"({', '.join(chosen_variants)}) x {len(distributions)} distributions of run "
        f"{manifest['run']['name']}\non the device: tar xzf {os.path.basename(out)} && "
        f"python3 {name}/runner.py {name} --threads 4 --out device_results.json\nback here: "
        f"python -m export.merge --workdir {run_dir} device_results.json")
    return manifest
