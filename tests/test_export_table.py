"""`python -m export.tflite --workdir RUN --variants=...` on a finished tiny run (a
structured method, so the shipped networks are the deployable ones): results.json gets
the export section, the table compares Keras and TFLite prune potential per
distribution and variant, and an unknown variant is refused in one line."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

TINY = ["--config", "configs/quickstart.py", "--config.train.epochs=3",
        "--config.prune.method=ft", "--config.prune.ratios=(0.3, 0.6)",
        "--config.prune.retrain_epochs=1", "--config.eval.corruptions=('contrast',)",
        "--config.eval.noise_images=0", "--config.eval.reference_network=False",
        "--config.export.latency_runs=5", "--config.export.latency_batch_runs=1",
        "--config.export.latency_warmup=1"]
VARIANTS = ("float32", "int8", "sparse")


def _run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("export"))
    trained = _run("tfprune.run", *TINY, f"--workdir={workdir}", "--config.export.tflite=False")
    assert trained.returncode == 0, trained.stderr[-3000:]
    result = _run("export.tflite", f"--workdir={workdir}", f"--variants={','.join(VARIANTS)}")
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(workdir, "results.json")) as stream:
        return workdir, json.load(stream), result.stdout


def test_every_network_has_every_variant_with_sizes_latency_and_agreement(exported):
    workdir, results, _ = exported
    assert results["export"]["variants"] == list(VARIANTS)
    networks = [results["parent"], *results["methods"]["ft"]["cycles"]]
    for network in networks:
        assert list(network["export"]) == list(VARIANTS)
        assert "tflite" not in network  # a copy of export["float32"] once, gone
        for variant, entry in network["export"].items():
            path = os.path.join(workdir, entry["file"])
            assert os.path.getsize(path) == entry["size_bytes"] > entry["gzip_bytes"] > 0
            assert entry["file"].endswith(f".{variant}.tflite")
            assert set(entry["accuracy"]) == {"nominal", "contrast_3"}
            for timing in entry["latency"].values():
                assert 0 < timing["median_ms"] <= timing["p90_ms"]
            assert min(entry["agreement_with_keras"].values()) >= (
                0.95 if variant == "int8" else 0.99)
    parent = results["parent"]["export"]["float32"]
    assert parent["parent_latency"] is None
    for cycle in networks[1:]:
        for entry in cycle["export"].values():
            # the speed-up divides times of the two files taken in the same rounds
            assert entry["speedup_vs_parent"] == pytest.approx(
                {batch: entry["parent_latency"][batch]["median_ms"] / timing["median_ms"]
                 for batch, timing in entry["latency"].items()})
            assert set(entry["speedup_vs_parent"]) == {"batch_1", "batch_64"}
            # FT's networks ship physically shrunk: fewer parameters and MACs in the file.
            assert entry["params"] < parent["params"] and entry["macs"] < parent["macs"]
            assert entry["flop_reduction"] == pytest.approx(parent["macs"] / entry["macs"])
            assert entry["output_tile"] == 16 and entry["tiled_macs"] >= entry["macs"]
            assert entry["tiled_flop_reduction"] == pytest.approx(
                parent["tiled_macs"] / entry["tiled_macs"])


def test_method_summary_says_where_the_conclusion_holds(exported):
    _, results, _ = exported
    summary = results["methods"]["ft"]
    steps = {0.0, *(c["prune_ratio"] for c in summary["cycles"])}
    assert list(summary["export"]) == list(VARIANTS)
    for variant in VARIANTS:
        entry = summary["export"][variant]
        assert set(entry["prune_potential"].values()) <= steps
        assert entry["conclusion_holds"] == (not entry["differs_by_more_than_a_step"])
        assert results["export"]["conclusion_holds"][variant] == entry["conclusion_holds"]
    # float32 computes the Keras function: its prune potential is Keras's.
    assert summary["export"]["float32"]["prune_potential"] == summary["prune_potential"]
    assert "tflite_prune_potential" not in summary


def test_printed_tables(exported):
    _, results, stdout = exported
    assert "ft: prune potential Keras vs TFLite, per distribution and variant" in stdout
    table = stdout.split("ft: prune potential Keras vs TFLite", 1)[1]
    header = next(line for line in table.splitlines() if line.startswith("distribution"))
    assert header.split() == ["distribution", "keras", *VARIANTS]
    assert "conclusion holds: float32 yes" in table
    assert "TFLite files: size" in table
    files = next(line for line in table.splitlines() if line.startswith("network"))
    assert files.split()[-4:] == ["FLOP", "red.", "tiled", "delegate"]
    rows = [line.split() for line in table.splitlines() if line.startswith(("parent", "ft "))]
    assert len(rows) == len(VARIANTS) * (1 + len(results["methods"]["ft"]["cycles"]))


def test_export_files_are_reused_on_a_second_call(exported):
    workdir, results, _ = exported
    path = os.path.join(workdir, results["parent"]["export"]["int8"]["file"])
    before = os.path.getmtime(path)
    again = _run("export.tflite", f"--workdir={workdir}", "--variants=int8")
    assert again.returncode == 0, again.stderr[-3000:]
    assert os.path.getmtime(path) == before
    with open(os.path.join(workdir, "results.json")) as stream:
        second = json.load(stream)
    assert list(second["parent"]["export"]) == ["int8"]
    assert second["parent"]["export"]["int8"]["latency"] == \
        results["parent"]["export"]["int8"]["latency"]


def test_unknown_variant_is_refused_in_one_line(exported):
    workdir = exported[0]
    result = _run("export.tflite", f"--workdir={workdir}", "--variants=float32,int4")
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert "--variants" in message and "'int4'" in message and "sparse_int8" in message


def test_other_latency_settings_retime_the_files_but_keep_their_outputs(exported):
    workdir, results, _ = exported
    entry = results["parent"]["export"]["float32"]
    path = os.path.join(workdir, entry["file"])
    before = os.path.getmtime(path)
    again = _run("export.tflite", f"--workdir={workdir}", "--variants=float32",
                 "--latency_runs=7", "--threads=1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert os.path.getmtime(path) == before  # not converted again
    with open(path[:-len(".tflite")] + ".json") as stream:
        facts = json.load(stream)
    assert facts["latency_settings"]["runs"] == 7 and facts["latency_settings"]["threads"] == 1
    with open(os.path.join(workdir, "results.json")) as stream:
        retimed = json.load(stream)["parent"]["export"]["float32"]
    assert retimed["latency"] == facts["latency"] != entry["latency"]
    assert retimed["accuracy"] == entry["accuracy"]


def test_another_output_tile_recounts_without_retiming(exported):
    workdir, results, _ = exported
    facts_path = os.path.join(workdir, results["parent"]["export"]["float32"]["file"])[:-7] + ".json"
    with open(facts_path) as stream:
        before = json.load(stream)
    timing = before["latency_settings"]
    again = _run("export.tflite", f"--workdir={workdir}", "--variants=float32",
                 "--output_tile=8", f"--latency_runs={timing['runs']}",
                 f"--threads={timing['threads']}")
    assert again.returncode == 0, again.stderr[-3000:]
    with open(os.path.join(workdir, "results.json")) as stream:
        recounted = json.load(stream)
    parent = recounted["parent"]["export"]["float32"]
    assert parent["output_tile"] == 8 and parent["latency"] == before["latency"]
    assert parent["macs"] == before["macs"] <= parent["tiled_macs"] <= before["tiled_macs"]
    cycle = recounted["methods"]["ft"]["cycles"][-1]["export"]["float32"]
    assert cycle["tiled_flop_reduction"] == pytest.approx(parent["tiled_macs"] / cycle["tiled_macs"])
