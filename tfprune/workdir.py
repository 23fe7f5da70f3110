"""The layout of a run directory: every path, network id and stored config, in one place.

    WORKDIR/
      config.json                      the run's config and FORMAT (read back by stored_config)
      checkpoints/parent.keras (.json) the parent (and reference) checkpoint and its record
      checkpoints/<method>/cycle_NN.keras (.json)   each pruned network
      checkpoints/parent-epoch-EE.npz  the parent's weights after EE epochs (prune.rewind=weights)
      backup/<stage>/                  a training stage's BackupAndRestore (removed when done)
      predictions/<network>.keras.npz, predictions/<network>.tflite-<variant>.npz
      tflite/<network>.<variant>.tflite (.json: its measured facts)
      pqat/<network>.npz               its weights after PQAT fine-tuning (variant pqat_int8)
      cache/<data>-<fingerprint>-<corruption>-<severity>-seed<seed>.npy (.npy.sha256: digest)
      tensorboard/                     training curves, pruning summaries, per-cycle scalars
      results.json, results-<method>.json (a sweep unit's part)
      report.md, report/<figure>.png
      devices/<device>.json            results brought back from a device kit
      seed-<s>/                        one seed's ordinary workdir (a sweep of several seeds)
      shards/shard-<i>-of-<n>.json     the units each shard of a sweep took
      lock/workdir.lock, lock/holder-<host>-<pid>.json   the workdir lock and its holders
      inputs/<kind>-<digest>.keras|.npz   a model or arrays handed to tfprune.api.run

Network ids name the networks of a run: "parent", "reference", and "<method>-NN" for
cycle NN of a method. Other modules build no workdir path themselves.
"""
import json
import os
import re

from tfprune import errors, storage

# The layout this version reads; config.json records it, and a workdir of another
# format is refused.
FORMAT = 1
# Keys that may change on an existing workdir: what is measured (re-evaluated without
# retraining), and which methods run (each method's cascade is kept apart).
EVALUATION_KEYS = ("eval.", "export.", "prune.method")
PARENT, REFERENCE = "parent", "reference"
CONTROL = "control"  # the parent retrained as a cycle retrains, nothing pruned
FIGURE_DIR = "report"
_CYCLE_ID = re.compile(r"^(?P<method>.+)-(?P<index>\d{2,})$")
_CACHE_FILE = re.compile(r"^(?P<dataset>.+)-(?P<fingerprint>[0-9a-fA-F]+)-(?P<name>[A-Za-z0-9_]+)"
                         r"-(?P<severity>\d+)-seed(?P<seed>\d+)(?:-(?P<variant>[a-z]+))?"
                         r"\.npy$")


def cycle_id(method, index):
    """The network id of cycle `index` (from 1) of `method`: wt-01."""
    return f"{method}-{index:02d}"


def parse_cycle_id(network_id):
    """(method, index) of a cycle's network id, or None for parent and reference."""
    match = _CYCLE_ID.match(network_id)
    return (match["method"], int(match["index"])) if match else None


# ---------------------------------------------------------------------------
# Networks: checkpoints, their records, training backups and curves.

def checkpoint(workdir, network_id):
    """A network's stripped checkpoint; its record is `record(...)` of this path."""
    cycle = parse_cycle_id(network_id)
    if cycle is None:
        return os.path.join(workdir, "checkpoints", f"{network_id}.keras")
    return os.path.join(workdir, "checkpoints", cycle[0], f"cycle_{cycle[1]:02d}.keras")


def rewind_point(workdir, epoch):
    """The parent's weights after `epoch` epochs of its training, weight rewinding's point."""
    return os.path.join(workdir, "checkpoints", f"{PARENT}-epoch-{epoch:02d}.npz")


def record(checkpoint_path):
    """The JSON record (parameters, history, times) saved beside a checkpoint."""
    return checkpoint_path[:-len(".keras")] + ".json"


def _stage(network_id):
    cycle = parse_cycle_id(network_id)
    return network_id if cycle is None else os.path.join(cycle[0], f"cycle_{cycle[1]:02d}")


def backup(workdir, network_id, unit=None):
    """The training backup of a network's stage. Sweep units (`unit`: their method) that
    may train the same unpruned network at once keep separate backups."""
    stage = _stage(network_id)
    return os.path.join(workdir, "backup", f"{stage}-for-{unit}" if unit else stage)


def tensorboard(workdir, *parts):
    """The TensorBoard folder, or a part of it: a network's stage (tensorboard(w, id) via
    `training_logs`), a method's per-cycle scalars (method, "cycles"), the samples."""
    return os.path.join(workdir, "tensorboard", *parts)


def training_logs(workdir, network_id):
    return tensorboard(workdir, _stage(network_id))


# ---------------------------------------------------------------------------
# Evaluation outputs and exported files.

def predictions(workdir, network_id, variant=None, policy=None):
    """A network's stored outputs: of its Keras model (in float32, or under the Keras
    precision `policy`: eval.precision), or of its TFLite file `variant`."""
    kind = f"tflite-{variant}" if variant else "keras" + (f"-{policy}" if policy else "")
    return os.path.join(workdir, "predictions", f"{network_id}.{kind}.npz")


def tflite_file(workdir, network_id, variant):
    return os.path.join(workdir, "tflite", f"{network_id}.{variant}.tflite")


def tflite_facts(workdir, network_id, variant):
    """The measured facts (sizes, counts, latency) of a TFLite file."""
    return os.path.join(workdir, "tflite", f"{network_id}.{variant}.json")


def pqat_weights(workdir, network_id):
    """A network's weights after pruning-preserving quantization-aware training (export.pqat),
    with the digests of what they were fine-tuned from."""
    return os.path.join(workdir, "pqat", f"{network_id}.npz")


def tflite_files(workdir):
    """{(network, variant): path} of the run's exported files, the parent's first."""
    found = {}
    folder = os.path.join(workdir, "tflite")
    for name in storage.listdir(folder):
        network, _, variant = name.removesuffix(".tflite").partition(".")
        if name.endswith(".tflite") and variant and network:  # not a killed write's .tmp-*
            found[(network, variant)] = os.path.join(folder, name)
    return dict(sorted(found.items(), key=lambda item: (item[0][0] != PARENT, item[0])))


def cache_dir(workdir, configured=""):
    """Where generated corruptions are cached: `eval.cache_dir`, else WORKDIR/cache."""
    return configured or os.path.join(workdir, "cache")


def cache_file(folder, dataset, fingerprint, corruption, severity, seed, variant=""):
    """A generated corruption's cached images; `variant` tells apart sets of one corruption
    made from different inputs (frost: "photos" for the reference's photographs)."""
    suffix = f"-{variant}" if variant else ""
    return os.path.join(
        folder, f"{dataset}-{fingerprint}-{corruption}-{severity}-seed{seed}{suffix}.npy")


def parse_cache_file(name):
    """{dataset, fingerprint, name, severity, seed, variant} of a cache file name, or None."""
    match = _CACHE_FILE.match(name)
    if not match:
        return None
    found = match.groupdict()
    return dict(found, severity=int(found["severity"]), seed=int(found["seed"]))


# ---------------------------------------------------------------------------
# Results, reports, devices, sweeps.

def api_input(workdir, kind, digest, extension):
    """Where tfprune.api.run keeps a Python object it was given (the parent model, the
    data arrays), named by its content's digest so that a rerun with the same object
    finds it and another object is another input."""
    return os.path.join(workdir, "inputs", f"{kind}-{digest[:16]}.{extension}")


def results(workdir, method=None):
    """results.json, or a sweep unit's results-<method>.json (tfprune.sweep merges them)."""
    return os.path.join(workdir, f"results-{method}.json" if method else "results.json")


def report(workdir):
    return os.path.join(workdir, "report.md")


def figure(workdir, name):
    return os.path.join(workdir, FIGURE_DIR, name)


def devices_dir(workdir):
    return os.path.join(workdir, "devices")


def device_results(workdir, device):
    """Where a device's results are kept; the device's name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", device) or "device"
    return os.path.join(devices_dir(workdir), f"{safe}.json")


def seed_dir(workdir, seed):
    return os.path.join(workdir, f"seed-{seed}")


def shards_dir(workdir):
    return os.path.join(workdir, "shards")


def shard_record(workdir, index, count):
    return os.path.join(shards_dir(workdir), f"shard-{index}-of-{count}.json")


def lock_file(workdir):
    """The file a run flocks for its whole life (tfprune.lock); it stays, empty."""
    return os.path.join(workdir, "lock", "workdir.lock")


def lock_holder(workdir, host, pid):
    """The record (pid, host, since, command) of a process that holds the workdir lock."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", host) or "host"
    return os.path.join(workdir, "lock", f"holder-{safe}-{pid}.json")


def lock_holders(workdir):
    """The holder records in the workdir's lock folder."""
    folder = os.path.dirname(lock_file(workdir))
    return [os.path.join(folder, name) for name in storage.listdir(folder)
            if name.startswith("holder-") and name.endswith(".json")]


# ---------------------------------------------------------------------------
# The stored config.

def _flatten(tree, prefix=""):
    """{"a.b": value} of a nested config mapping; tuples as lists, as JSON holds them."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _config_path(workdir):
    return os.path.join(workdir, "config.json")


def _stored_record(workdir):
    """The config in a workdir's config.json; refused when unreadable or written by a
    tfprune version with another workdir format."""
    path = _config_path(workdir)
    try:
        stored = storage.read_json(path)
    except (OSError, ValueError) as error:
        raise errors.ConfigError(f"{path} is unreadable ({error}); use a new --workdir, "
                                 "or --fresh to move this one aside") from error
    found = stored.pop("format_version", 1)  # workdirs written before the field are format 1
    if found != FORMAT:
        raise errors.ConfigError(
            f"{workdir} holds a run of another tfprune version (workdir format {found}, this "
            f"version reads {FORMAT}); use a new --workdir, or --fresh to move it aside and "
            "start over")
    return stored


def check(config, workdir, schema):
    """Refuse a workdir that holds a run of another training config (a key its config.json
    lacks, being older than the key, counts as the key's default in `schema`, the
    config schema); returns the config as JSON."""
    current = json.loads(config.to_json())
    require_folder(workdir)
    if storage.exists(_config_path(workdir)):
        stored = dict(_flatten(json.loads(schema.to_json())), **_flatten(_stored_record(workdir)))
        changed = sorted(k for k, v in _flatten(current).items()
                         if stored.get(k) != v and not k.startswith(EVALUATION_KEYS))
        if changed:
            raise errors.ConfigError(
                f"--workdir={workdir} holds a run with other settings ({', '.join(changed)}); "
                "use a new --workdir, --fresh to move that run aside and start over, "
                "or the same config to continue it")
    return current


def prepare(config, workdir, schema):
    """Refuse a workdir that holds a run of another training config; record this one."""
    storage.write_json(_config_path(workdir),
                       dict(check(config, workdir, schema), format_version=FORMAT))


def require_folder(workdir):
    """Refuse a workdir path that names a file."""
    if storage.exists(workdir) and not storage.isdir(workdir):
        raise errors.ConfigError(f"--workdir={workdir} is a file; choose a folder")


def require_run(workdir):
    """Refuse a folder that holds no run (its config.json is missing)."""
    if not storage.exists(_config_path(workdir)):
        raise errors.ConfigError(f"{_config_path(workdir)} is missing; --workdir must be a "
                                 "tfprune.run workdir")


def stored_config(workdir, schema):
    """The config a workdir's run was started with: `schema` (a fresh config schema)
    updated from its config.json."""
    require_run(workdir)
    schema.update_from_flattened_dict(_flatten(_stored_record(workdir)))
    return schema
