"""A sweep over 2 seeds x 2 methods split into shards that run at once on one workdir,
then merged: every unit ran in exactly one shard, the merge equals an unsharded run of
the same sweep metric for metric, a merge with a shard missing is refused in one line,
and bad --shard values are refused in one line."""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, config_file, results_differences
from tfprune import config as config_lib
from tfprune import sweep
from tfprune import errors, verdicts

OVERRIDES = {"train.epochs": 1, "data.max_train_examples": 128, "prune.ratios": (0.5,),
             "prune.retrain_epochs": 1, "eval.corruptions": ("contrast",),
             "eval.noise_images": 0, "eval.reference_network": False,
             "export.tflite": False, "seeds": (0, 1), "prune.methods": "wt,ft",
             "eval.stop_at_chance_parent": False, "eval.control_network": False}
CLI = ["--config", "configs/quickstart.py",
       *(f"--config.{key}={value if isinstance(value, str) else repr(value)}"
         for key, value in OVERRIDES.items())]
UNITS = {(0, "wt"), (0, "ft"), (1, "wt"), (1, "ft")}
# Shards 2/3 and 3/3 hold seed 1's two units: they run at once and both need its parent.
CONCURRENT = (2, 3)
UNIT_LINE = re.compile(r"^sweep: shard (\d+)/3, unit \d+/\d+: seed (\d+), method (\w+)$", re.M)
CYCLE_LINE = re.compile(r"^\[(\w+)\] cycle 1/1: target", re.M)


def _config():
    config = config_file("quickstart")()
    config.update_from_flattened_dict(OVERRIDES)
    return config


def _command(*flags):
    return [sys.executable, "-m", "tfprune.run", *CLI, *flags]


def _cli(*flags):
    return subprocess.run(_command(*flags), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _results(workdir):
    with open(os.path.join(workdir, "results.json")) as stream:
        return json.load(stream)


def _one_line_error(result):
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr[-3000:]
    return last


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The sweep as shards on one workdir (two at once in subprocesses, a merge attempt
    before the third has run, the third, the merge) and, meanwhile, unsharded here."""
    root = tmp_path_factory.mktemp("sweep")
    sharded, unsharded = str(root / "sharded"), str(root / "unsharded")
    logs, processes = {}, {}
    try:
        for index in CONCURRENT:
            logs[index] = open(str(root / f"shard-{index}.log"), "w+")
            processes[index] = subprocess.Popen(
                _command(f"--shard={index}/3", f"--workdir={sharded}"), cwd=ROOT,
                stdout=logs[index], stderr=subprocess.STDOUT)
        sweep.run(_config(), unsharded, log=lambda _: None)
        codes = {index: process.wait(timeout=300) for index, process in processes.items()}
    finally:
        for process in processes.values():
            process.kill()
            process.wait()
    output = {}
    for index, log in logs.items():
        log.seek(0)
        output[index] = log.read()
        log.close()
        assert codes[index] == 0, output[index][-3000:]
    refused = _cli("--merge", f"--workdir={sharded}")
    merged_early = os.path.exists(os.path.join(sharded, "results.json"))
    lines = []
    sweep.run(_config(), sharded, shard=(1, 3), log=lines.append)
    output[1] = "\n".join(lines)
    merged = _cli("--merge", f"--workdir={sharded}")
    assert merged.returncode == 0, merged.stderr[-3000:]
    return dict(sharded=sharded, unsharded=unsharded, output=output, refused=refused,
                merged_early=merged_early, merged=merged)


def test_every_unit_ran_in_exactly_one_shard(runs):
    ran = {index: {(int(seed), method) for shard, seed, method in UNIT_LINE.findall(text)
                   if int(shard) == index} for index, text in runs["output"].items()}
    assert ran == {1: {(0, "wt"), (0, "ft")}, 2: {(1, "wt")}, 3: {(1, "ft")}}
    # Each shard trained the cycles of its own units, and no other.
    for index, text in runs["output"].items():
        assert sorted(CYCLE_LINE.findall(text)) == sorted(m for _, m in ran[index]), text[-3000:]
    # Seed 1's parent: trained by one of its shards, by both at once, or reused by one.
    for index in CONCURRENT:
        assert re.search(r"^parent: (training|reusing)", runs["output"][index], re.M)
    for index in (1, 2, 3):
        with open(os.path.join(runs["sharded"], "shards", f"shard-{index}-of-3.json")) as stream:
            assert {tuple(u) for u in json.load(stream)["units"]} == ran[index]


def test_merge_equals_the_unsharded_sweep(runs):
    sharded, unsharded = _results(runs["sharded"]), _results(runs["unsharded"])
    assert sharded["sweep"]["seeds"] == [0, 1] and sharded["sweep"]["methods"] == ["wt", "ft"]
    for seed in ("0", "1"):
        assert set(sharded["seeds"][seed]["methods"]) == {"wt", "ft"}
        # Each seed's folder holds its merged results.json, as a one-seed run writes it.
        assert _results(os.path.join(runs["sharded"], f"seed-{seed}")) == sharded["seeds"][seed]
        assert os.path.exists(os.path.join(runs["sharded"], f"seed-{seed}", "report.md"))
    assert results_differences(sharded, unsharded) == []
    # Mean and std across seeds are those of the per-seed prune potentials.
    for method in ("wt", "ft"):
        for name, stats in sharded["across_seeds"]["methods"][method]["prune_potential"].items():
            values = [sharded["seeds"][s]["methods"][method]["prune_potential"][name]
                      for s in ("0", "1")]
            assert stats["values"] == values
            assert stats["mean"] == pytest.approx(sum(values) / 2)
            assert stats["std"] == pytest.approx(abs(values[0] - values[1]) / 2)
        # What the seeds support, from the same per-seed results.
        entry = sharded["across_seeds"]["methods"][method]
        per_seed = [sharded["seeds"][s] for s in ("0", "1")]
        assert entry["seed_support"] == verdicts.seed_support(
            [r["methods"][method]["prune_potential"] for r in per_seed])
        paired, = entry["paired_by_cycle"]
        assert paired["by_distribution"] == verdicts.paired_comparison(
            [r["methods"][method]["cycles"][0]["accuracy"] for r in per_seed],
            [r["parent"]["accuracy"] for r in per_seed], sharded["delta"])
    assert "ft: prune potential (%) per seed, and mean +- std over 2 seeds" in runs["merged"].stdout
    assert "seeds support a PP different from nominal on:" in runs["merged"].stdout
    assert "pruned vs its own seed's parent" in runs["merged"].stdout
    with open(os.path.join(runs["sharded"], "report.md")) as stream:
        assert "seed-0/report.md" in stream.read()


def test_merge_with_a_shard_missing_is_refused_in_one_line(runs):
    last = _one_line_error(runs["refused"])
    assert last == ("error: cannot merge: 2 of 4 units are unfinished (seed 0 wt, seed 0 ft); "
                    "run --shard=1/3, then --merge again")
    assert not runs["merged_early"]  # nothing written


@pytest.mark.parametrize("text, expected", [
    ("0/2", "--shard=0/2: need 1 <= i <= n"), ("3/2", "--shard=3/2: need 1 <= i <= n"),
    ("a/b", "--shard=a/b: cannot read it; write --shard=i/n"), ("2", "--shard=2: cannot read it"),
    ("1/0", "--shard=1/0: need 1 <= i <= n")])
def test_bad_shard_values_are_refused(text, expected):
    with pytest.raises(errors.ConfigError, match=re.escape(expected)):
        sweep.parse_shard(text)


def test_bad_shard_on_the_command_line_ends_in_one_line(tmp_path):
    result = _cli("--shard=0/2", f"--workdir={tmp_path / 'run'}")
    assert _one_line_error(result).startswith("error: --shard=0/2: need 1 <= i <= n")
    assert not os.path.exists(tmp_path / "run")


def test_a_shard_beyond_the_units_says_so_and_does_nothing(tmp_path):
    lines = []
    sweep.run(_config(), str(tmp_path / "run"), shard=(5, 5), log=lines.append)
    assert lines == ["shard 5/5: no units (the sweep has 4); nothing to do"]
    assert not os.path.exists(tmp_path / "run")
    assert {u for i in range(1, 6) for u in sweep.shard_units(sorted(UNITS), i, 5)} == UNITS


def test_a_sweep_under_multi_worker_training_is_refused_before_any_work(tmp_path):
    config = _config()
    config.train.strategy = "multi_worker"
    with pytest.raises(errors.ConfigError, match="start each seed as its own multi-worker"):
        sweep.run(config, str(tmp_path / "run"), shard=(1, 2))
    assert not os.path.exists(tmp_path / "run")
