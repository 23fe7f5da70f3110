"""The control network (eval.control_network): the parent retrained as a cycle retrains,
nothing pruned. A deliberately under-trained parent (4 epochs of the quickstart) is
flagged on the distributions where retraining alone gains more than delta; prune
potentials against the control stand beside those against the parent, and a potential
at the largest tested ratio is marked censored (">=") in results, table and report. The
quickstart's own parent (40 epochs) passes its control on every distribution."""
import json
import subprocess
import sys

from conftest import ROOT

RUN = ["--config", "configs/quickstart.py", "--config.train.epochs=4",
       "--config.prune.ratios=(0.5, 0.8)", "--config.prune.retrain_epochs=2",
       "--config.eval.corruptions=('contrast',)", "--config.eval.noise_images=0",
       "--config.eval.control_network=True", "--config.export.tflite=False"]


def test_an_under_trained_parent_is_flagged_by_its_control(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "tfprune.run", *RUN, f"--workdir={workdir}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((workdir / "results.json").read_text())
    control, parent = results["control"], results["parent"]
    gain = 100 * (control["accuracy"]["nominal"] - parent["accuracy"]["nominal"])
    assert gain > results["delta"]  # 4 epochs: retraining alone helps
    assert control["gain_over_parent"]["nominal"] == gain
    error = control["gain_standard_error"]["nominal"]
    assert 0 < error < gain / 1.96  # beyond the sampling error of 449 paired test images
    assert "nominal" in control["not_converged"]
    assert (f"parent not converged: retraining alone gains {gain:.1f} points on nominal "
            f"(sampling error {error:.1f}); prune potentials on nominal are inflated"
            ) in result.stdout
    summary = results["methods"]["wt"]
    assert set(summary["prune_potential_vs_control"]) == set(parent["accuracy"])
    largest = max(c["prune_ratio"] for c in summary["cycles"])
    for name, potential in summary["prune_potential"].items():
        assert summary["censored"][name] == (potential == largest)
    header = next(line for line in result.stdout.splitlines() if line.startswith("distribution  "))
    assert header.split()[:3] == ["distribution", "parent", "control"] and "PP control" in header
    assert (workdir / "checkpoints" / "control.json").exists()
    report = (workdir / "report.md").read_text()
    assert "| nominal * |" in report and "parent not converged" in report
    if any(summary["censored"].values()):
        assert "\u2265 " in report and ">=" in result.stdout


def test_the_quickstart_parent_passes_its_control(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
         "--config.prune.ratios=(0.5,)", "--config.eval.noise_images=0",
         "--config.eval.reference_network=False", "--config.export.tflite=False",
         f"--workdir={workdir}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    control = json.loads((workdir / "results.json").read_text())["control"]
    assert control["not_converged"] == [], control["gain_over_parent"]
    assert "parent not converged" not in result.stdout
    header = next(line for line in result.stdout.splitlines() if line.startswith("distribution  "))
    assert header.split()[:3] == ["distribution", "parent", "control"]
