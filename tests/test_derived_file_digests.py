"""Derived files record digests of what they were derived from and are checked when read:
a .tflite file replaced by another network's is exported again (it was reported with 100%
agreement, its stored outputs reused), a replaced checkpoint's outputs are computed again,
and results.json names the predictions files (and their digests) it was built from."""
import os
import shutil

import numpy as np

from conftest import results_differences, rerun, tiny_config
from tfprune import pipeline, storage, workdir
from tfprune import results as results_lib


def test_a_tflite_file_replaced_by_another_networks_is_exported_again(finished, copy):
    parent_file = workdir.tflite_file(copy, workdir.PARENT, "float32")
    cycle_file = workdir.tflite_file(copy, workdir.cycle_id("wt", 2), "float32")
    shutil.copyfile(cycle_file, parent_file)
    results, logs = rerun(copy)
    assert f"{parent_file}: exporting it again (the file changed since it was measured)" in logs
    original = workdir.tflite_file(finished[0], workdir.PARENT, "float32")
    assert storage.file_digest(parent_file) == storage.file_digest(original)
    assert results_differences(finished[1], results) == []


def test_a_tflite_file_copied_with_its_facts_is_exported_again(finished, copy):
    for where in (workdir.tflite_file, workdir.tflite_facts):
        shutil.copyfile(where(copy, "wt-02", "float32"), where(copy, workdir.PARENT, "float32"))
    results, logs = rerun(copy)
    parent_file = workdir.tflite_file(copy, workdir.PARENT, "float32")
    assert f"{parent_file}: exporting it again (its checkpoint changed since)" in logs
    assert results_differences(finished[1], results) == []


def test_a_replaced_checkpoint_is_evaluated_and_exported_anew(finished, copy):
    first, second = (workdir.checkpoint(copy, workdir.cycle_id("wt", i)) for i in (1, 2))
    shutil.copyfile(first, second)  # cycle 2's record stays: only the network changed
    results, logs = rerun(copy)
    assert (f"{workdir.predictions(copy, 'wt-02')}: computed again (checkpoint changed since "
            "it was stored)") in logs
    assert (f"{workdir.tflite_file(copy, 'wt-02', 'float32')}: exporting it again (its "
            "checkpoint changed since)") in logs
    cycles = results["methods"]["wt"]["cycles"]
    before = finished[1]["methods"]["wt"]["cycles"]
    assert cycles[1]["accuracy"] == cycles[0]["accuracy"] == before[0]["accuracy"]
    assert cycles[1]["export"]["float32"]["accuracy"] == before[0]["export"]["float32"]["accuracy"]
    assert cycles[1]["derived_from"] != before[1]["derived_from"]


def test_changed_inputs_recompute_every_stored_output(finished, copy):
    config = tiny_config()
    config.eval.corruption_seed = 1  # the same distribution names, other images
    logs = []
    pipeline.run(config, copy, log=logs.append)
    recomputed = [line for line in logs if "test inputs changed since it was stored" in line]
    assert len(recomputed) == 6  # parent, 2 cycles: Keras and float32 each


def test_results_name_the_predictions_they_were_built_from(finished, copy):
    results = finished[1]
    recorded = {}
    for entry in [results["parent"], *results["methods"]["wt"]["cycles"]]:
        recorded.update(entry["derived_from"])
        for exported in entry["export"].values():
            recorded.update(exported["derived_from"])
    assert sorted(recorded) == [
        "predictions/parent.keras.npz", "predictions/parent.tflite-float32.npz",
        "predictions/wt-01.keras.npz", "predictions/wt-01.tflite-float32.npz",
        "predictions/wt-02.keras.npz", "predictions/wt-02.tflite-float32.npz"]
    assert storage.read_json(workdir.results(copy)) == results
    assert results_lib.stale_inputs(copy, results) == []

    path = workdir.predictions(copy, "wt-01")
    stored, sources = storage.split_sources(storage.load_arrays(path, ()))
    stored["nominal:pred"] = np.roll(stored["nominal:pred"], 1)
    storage.save_arrays(path, stored, sources)
    os.remove(workdir.predictions(copy, "wt-02", "float32"))
    assert results_lib.stale_inputs(copy, results) == [
        "predictions/wt-01.keras.npz (changed since results.json was built)",
        "predictions/wt-02.tflite-float32.npz (missing or unreadable)"]
