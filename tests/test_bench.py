"""The benchmark's plumbing on tiny settings through its CLI: every figure is written and
positive (timings are not asserted: the machine is shared)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT


def test_bench_writes_every_figure(tmp_path):
    path = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "tfprune.bench", "--model=cnn_small", "--images=256",
         "--sets=1", "--train_steps=2", "--rounds=1", "--matmul_size=256", "--latency_runs=3",
         "--prune_ratios=0.5", "--noquickstart", "--levers", "--tflite_images=64", f"--cifar_dir={tmp_path}", f"--json={path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(path.read_text())
    assert figures["machine"]["cores"] >= 1 and figures["machine"]["cpu"]
    assert figures["images"] == "random images"
    assert figures["P7"]["mixed_bfloat16"]["wrapped_over_float32"] > 0
    assert figures["P7"]["mixed_bfloat16"]["wrapped_over_plain"] > 0
    assert isinstance(figures["machine"]["bf16_flags"], list)
    for key in ("P1", "P3", "P4"):
        assert figures[key] and all(value > 0 for value in figures[key].values()), key
    assert figures["P3"]["train_gflops"] == pytest.approx(3 * (
        figures["P3"]["forward_mflop_per_image"] / 1e3 * figures["P1"]["plain_best_images_per_s"]))
    pruned = figures["P5"]["ft0.5"]
    assert pruned["flop_reduction"] > 1 and pruned["latency_ms"] > 0 and pruned["speedup"] > 0
    assert pruned["speedup_over_tiled_flop_reduction"] == pytest.approx(
        pruned["speedup"] / pruned["tiled_flop_reduction"])
    tile = figures["P5_tile"]
    assert [int(count) for count in tile["latency_ms"]] == [1, 2, 4, 8, 12, 16, 17, 24, 32, 33]
    assert all(ms > 0 for ms in tile["latency_ms"].values())
    assert str(tile["tile"]) in tile["latency_ms"]
    assert figures["P5"]["parent_ms"] > 0
    assert "P6" not in figures
    training = figures["levers"]["training"]
    assert set(training) == {"batch_augment", "per_image_augment", "jit_compile"}
    assert training["batch_augment"]["over_default"] == 1.0
    assert all(rate["images_per_s"] > 0 for rate in training.values())
    assert set(figures["levers"]["tflite_batches"]) == {"batch_1", "batch_16", "batch_64",
                                                        "batch_256"}
    for line in ("P1 ", "P7 training at mixed_bfloat16", "P3 training", "P3 inference", "P4 ", "P5 ", "P5 tile", "lever jit_compile",
                 "lever TFLite batch_64"):
        assert line in result.stdout
