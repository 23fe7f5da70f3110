"""A workdir on a tf.io.gfile file system (gs:// where available): tfprune.storage writes,
lists and reads a run's files there as it does locally, and moves a run aside (--fresh).
A sweep's shard and its merge run on one, and so do a run's TFLite export (its backups
removed once used), the reports with their figures, and the device kit: built from the
run, and its results merged back into it. TensorFlow's ram:// file system stands in for a bucket: non-local,
reachable through tf.io.gfile only (within one process)."""
import io
import os
import tarfile

import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from export import devices, kit, runner
from tfprune import config as config_lib
from tfprune import storage
from tfprune import models, pipeline, sweep
from tfprune import errors


def _files(root):
    return sorted(os.path.join(folder, name)[len(root):].lstrip("/")
                  for folder, _, names in tf.io.gfile.walk(root) for name in names)


def test_json_arrays_and_keras_models_round_trip_on_ram_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a path mistaken for a local one would appear here
    root = "ram://round-trip/run"
    assert not storage.is_local(root) and storage.is_local("workdirs/run")
    assert not storage.exists(root) and storage.listdir(root) == []

    storage.write_json(f"{root}/config.json", {"seed": 0, "prune": {"ratios": [0.5]}})
    storage.write_json(f"{root}/config.json", {"seed": 1})  # replaced whole
    assert storage.read_json(f"{root}/config.json") == {"seed": 1}
    with tf.io.gfile.GFile(f"{root}/config.json") as stream:  # really on ram://
        assert stream.read() == '{\n  "seed": 1\n}\n'
    with pytest.raises(OSError, match="missing.json"):
        storage.read_json(f"{root}/missing.json")

    images = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
    storage.save_array(f"{root}/cache/contrast-3.npy", images)
    np.testing.assert_array_equal(
        storage.load_array(f"{root}/cache/contrast-3.npy", images.shape, np.uint8), images)
    assert storage.load_array(f"{root}/cache/contrast-3.npy", (3, 32, 32, 3), np.uint8) is None
    np.testing.assert_array_equal(storage.open_array(f"{root}/cache/contrast-3.npy")[1], images[1])
    storage.write_bytes(f"{root}/cache/stale.npy", b"old array")
    storage.remove_file(f"{root}/cache/stale.npy")
    storage.remove_file(f"{root}/cache/never-written.npy")  # nothing to do
    assert not storage.exists(f"{root}/cache/stale.npy")
    outputs = {"nominal:pred": np.array([3, 1, 4], np.int32), "nominal:ece": np.float64(0.25)}
    storage.save_arrays(f"{root}/predictions/parent.keras.npz", outputs)
    loaded = storage.load_arrays(f"{root}/predictions/parent.keras.npz", ["nominal:pred"])
    assert loaded["nominal:pred"].tolist() == [3, 1, 4] and loaded["nominal:ece"] == 0.25
    assert storage.load_arrays(f"{root}/predictions/parent.keras.npz", ["contrast_3:pred"]) is None
    assert storage.load_arrays(f"{root}/predictions/missing.npz", ["nominal:pred"]) is None

    model = models.build("cnn_small", (32, 32, 3), 10, seed=0)
    storage.save_model(f"{root}/checkpoints/parent.keras", model)
    restored = storage.load_model(f"{root}/checkpoints/parent.keras")
    np.testing.assert_array_equal(model.predict(images, verbose=0),
                                  restored.predict(images, verbose=0))
    storage.write_bytes(f"{root}/checkpoints/cut.keras", storage.read_bytes(
        f"{root}/checkpoints/parent.keras")[:2000])
    with pytest.raises(errors.WorkdirError, match="cut.keras cannot be loaded"):
        storage.load_model(f"{root}/checkpoints/cut.keras")

    # Every write went through a temporary that is gone; nothing landed on the local disk.
    assert _files(root) == ["cache/contrast-3.npy", "cache/contrast-3.npy.sha256",
                            "checkpoints/cut.keras", "checkpoints/parent.keras", "config.json",
                            "predictions/parent.keras.npz"]
    assert storage.listdir(root) == ["cache", "checkpoints", "config.json", "predictions"]
    assert storage.isdir(f"{root}/cache") and not storage.isdir(f"{root}/config.json")
    assert os.listdir(tmp_path) == []

    # --fresh moves the run aside, every file with it (ram:// renames a folder's name only).
    before = {name: storage.read_bytes(f"{root}/{name}") for name in _files(root)}
    moved = storage.move_aside(root)
    assert moved.startswith(f"{root}.old-")
    assert {name: storage.read_bytes(f"{moved}/{name}") for name in _files(moved)} == before
    assert not any(storage.exists(f"{root}/{name}") for name in before)
    assert storage.move_aside("ram://round-trip/never-written") is None


def test_a_sweep_shard_and_its_merge_run_on_a_ram_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = config_lib.base()
    config.update_from_flattened_dict({
        "train.epochs": 1, "train.batch_size": 64, "data.max_train_examples": 128,
        "eval.stop_at_chance_parent": False, "eval.control_network": False,
        "prune.ratios": (0.5,), "prune.retrain_epochs": 1, "eval.corruptions": ("contrast",),
        "export.tflite": False, "seeds": (0, 1), "prune.method": "wt"})
    workdir = "ram://sweep/run"
    sweep.run(config, workdir, shard=(1, 2), log=lambda _: None)
    with pytest.raises(errors.ConfigError, match=r"unfinished \(seed 1 wt\); run --shard=2/2"):
        sweep.merge(config, workdir, log=lambda _: None)
    sweep.run(config, workdir, shard=(2, 2), log=lambda _: None)
    merged = sweep.merge(config, workdir, log=lambda _: None)

    assert storage.read_json(f"{workdir}/results.json") == merged
    assert set(merged["seeds"]) == {"0", "1"}
    for seed in (0, 1):
        assert storage.read_json(f"{workdir}/seed-{seed}/results.json") == merged["seeds"][str(seed)]
        assert storage.read_json(f"{workdir}/seed-{seed}/config.json")["seed"] == seed
    files = _files(workdir)
    for path in ("config.json", "report.md", "shards/shard-1-of-2.json",
                 "shards/shard-2-of-2.json", "seed-0/checkpoints/parent.keras",
                 "seed-1/checkpoints/wt/cycle_01.keras", "seed-1/predictions/wt-01.keras.npz",
                 "seed-0/results-wt.json"):
        assert path in files
    assert not any("/.tmp-" in f or f.startswith(".tmp-") for f in files)
    # Each seed's report and its figures (the other seed overlaid), read from its cache too.
    for seed in (0, 1):
        report = storage.read_bytes(f"{workdir}/seed-{seed}/report.md").decode()
        for figure in ("accuracy_groups.png", "corruption_samples.png"):
            assert f"seed-{seed}/report/{figure}" in files
            assert f"](report/{figure})" in report
        assert f"- seed {seed}: {workdir}/seed-{seed}/report.md" in storage.read_bytes(
            f"{workdir}/report.md").decode()
    assert os.listdir(tmp_path) == []


def test_a_run_with_tflite_export_leaves_its_files_on_the_ram_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = config_lib.base()
    config.update_from_flattened_dict({
        "train.epochs": 1, "train.batch_size": 64, "data.max_train_examples": 128,
        "eval.stop_at_chance_parent": False, "eval.control_network": False,
        "prune.ratios": (0.5,), "prune.retrain_epochs": 1, "prune.method": "ft",
        "eval.corruptions": ("contrast",), "export.variants": ("float32", "int8"),
        "export.latency_runs": 2, "export.latency_batch_runs": 1,
        "export.latency_warmup": 0})
    workdir = "ram://export/run"
    results = pipeline.run(config, workdir, log=lambda _: None)

    files = _files(workdir)
    for network in ("parent", "ft-01"):
        for variant in ("float32", "int8"):
            assert f"tflite/{network}.{variant}.tflite" in files
            assert f"predictions/{network}.tflite-{variant}.npz" in files
    assert results["methods"]["ft"]["cycles"][0]["export"]["int8"]["latency"]["batch_1"]
    assert not any(f.startswith("backup/") for f in files)  # each stage's backup removed
    assert {"report.md", "report/keras_vs_tflite.png"} <= set(files)
    assert storage.read_json(f"{workdir}/results.json") == results
    assert os.listdir(tmp_path) == []

    # The device kit: built from the ram:// run onto ram://, run locally as on a device,
    # its results merged back into the ram:// run.
    manifest = kit.build(workdir, f"{workdir}/kits/kit.tar.gz", variants=["int8"],
                            log=lambda _: None)
    assert [m["id"] for m in manifest["models"]] == ["parent.int8", "ft-01.int8"]
    with tarfile.open(fileobj=io.BytesIO(storage.read_bytes(f"{workdir}/kits/kit.tar.gz"))) as tar:
        tar.extractall(tmp_path / "device", filter="data")
    device_results = str(tmp_path / "device" / "results.json")
    runner.run(str(tmp_path / "device" / "kit"), device_results, threads=1, device="ram-test",
               log=lambda _: None)
    merged = devices.merge(workdir, [device_results], log=lambda _: None)
    assert storage.read_json(f"{workdir}/results.json")["devices"] == merged["devices"]
    on_device = merged["devices"]["ram-test"]
    assert {network: set(variants) for network, variants in on_device["networks"].items()} == {
        "parent": {"int8"}, "ft-01": {"int8"}}
    assert set(on_device["prune_potential"]["ft"]) == {"int8"}
    assert "devices/ram-test.json" in _files(workdir)
