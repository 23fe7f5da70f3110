"""python -m tfprune.compare: two results.json compared metric by metric, timings aside,
schema 1's copies of export.float32 read from their source."""
import json
import subprocess
import sys

from conftest import ROOT
from tfprune import compare

OLD = {"parent": {"accuracy": {"nominal": 0.9}, "train_seconds": 12.0,
                  "tflite": {"accuracy": {"nominal": 0.9}},
                  "export": {"float32": {"accuracy": {"nominal": 0.9}}}},
       "methods": {"wt": {"prune_potential": {"nominal": 0.5},
                          "tflite_prune_potential": {"nominal": 0.5},
                          "export": {"float32": {"prune_potential": {"nominal": 0.5}}}}}}


def _new(**changes):
    new = json.loads(json.dumps(OLD))
    for tree in (new["parent"], new["methods"]["wt"]):
        tree.pop("tflite", None)
        tree.pop("tflite_prune_potential", None)
    new["parent"].update(changes)
    return new


def test_equal_metrics_and_other_timings_agree_and_additions_are_listed():
    changed, added = compare.differences(OLD, dict(_new(train_seconds=99.0), extra=1))
    assert changed == [] and added == ["/extra"]


def test_a_changed_or_missing_metric_is_reported():
    new = _new(accuracy={"nominal": 0.8})
    del new["methods"]["wt"]["export"]
    changed, _ = compare.differences(OLD, new)
    assert "/parent/accuracy/nominal: 0.9 != 0.8" in changed
    assert "/methods/wt/export: missing" in changed
    assert "/methods/wt/tflite_prune_potential: missing" in changed


def test_the_command_exits_1_on_a_difference_and_2_on_bad_input(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(_new(accuracy={"nominal": 0.8})))
    run = lambda *args: subprocess.run([sys.executable, "-m", "tfprune.compare", *args],  # noqa: E731
                                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run(str(old), str(old)).returncode == 0
    differs = run(str(old), str(new))
    assert differs.returncode == 1 and "differs: /parent/accuracy/nominal" in differs.stdout
    missing = run(str(old), str(tmp_path / "none.json"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: cannot read")
