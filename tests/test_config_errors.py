"""Bad configs are refused before any work, with one line naming the key and the fix."""
import subprocess
import sys

import pytest

from tfprune import config as config_lib
from tfprune import errors
from conftest import ROOT, config_file


@pytest.mark.parametrize("key, value, expected", [
    ("prune.ratios", (0.5, 1.2), "config.prune.ratios: 1.2 is out of range; allowed: [0, 1)"),
    ("prune.ratios", (0.5, 0.3), "must increase strictly"),
    ("train.epochs", -1, "config.train.epochs: -1 is out of range; allowed: [0, inf]"),
    ("prune.retrain_epochs", -2, "config.prune.retrain_epochs: -2 is out of range"),
    ("model.name", "resnet21", "config.model.name: unknown name 'resnet21'; allowed: "),
    ("data.name", "cifar11", "config.data.name: unknown name 'cifar11'; allowed: cifar10, digits"),
    ("prune.method", "wt,magic", "config.prune.method: unknown name 'magic'; allowed: "),
    ("prune.method", " , ", "config.prune.method: is empty"),
    ("prune.methods", "wt,sipp,wt", "config.prune.methods: wt,sipp,wt names a method twice"),
    ("prune.methods", "wt,fp", "config.prune.methods: unknown name 'fp'; allowed: ft, gmp, m_by_n, pfp, sipp, wt"),
    ("eval.corruptions", ("gaussian_noise", "fogg"), "config.eval.corruptions: unknown name 'fogg'"),
    ("eval.severities", (3, 6), "config.eval.severities: 6 is out of range; allowed: 1, 2, 3, 4, 5"),
    ("data.val_fraction", 1.0, "config.data.val_fraction: 1.0 is out of range; allowed: (0, 1)"),
    ("prune.spacing", ("geometric(0.9, 0.1)",), "needs three numbers"),
    ("prune.spacing", ("cubic(0.9, 0.1, 3)",), "cannot read 'cubic(0.9, 0.1, 3)'"),
    ("export.output_tile", 0, "config.export.output_tile: 0 is out of range; allowed: [1, inf]"),
])
def test_validate_refuses_with_one_line(key, value, expected):
    config = config_file("quickstart")()
    section, name = key.split(".")
    config[section][name] = value
    with pytest.raises(errors.ConfigError) as error:
        config_lib.validate(config)
    message = str(error.value)
    assert expected in message and "\n" not in message


def test_unknown_key_in_a_config_file_fails_at_once():
    config = config_lib.base()
    with pytest.raises(AttributeError):
        config.prune.ratio = 0.5  # typo of prune.ratios


def test_shipped_configs_validate():
    config_lib.validate(config_file("quickstart")())


def test_target_ratios_follow_torchprunes_spacing_and_split():
    """ResNet20 in the study: 69 keep ratios in 3 segments, 23 retrain cycles, 15%..98%."""
    prune = config_lib.base().prune
    prune.spacing = ("geometric(0.99, 0.855, 2)", "geometric(0.85, 0.15, 58)",
                     "linear(0.132, 0.02, 9)")
    prune.cycles = 23
    ratios = config_lib.target_ratios(prune)
    assert len(ratios) == 23
    assert ratios[0] == pytest.approx(0.15) and ratios[-1] == pytest.approx(0.98)
    assert all(b > a for a, b in zip(ratios, ratios[1:]))
    prune.ratios = (0.2, 0.5)
    assert config_lib.target_ratios(prune) == [0.2, 0.5]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "tfprune.run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_refuses_out_of_range_ratio_with_exit_2_and_writes_nothing(tmp_path):
    workdir = tmp_path / "run"
    result = _run("--config", "configs/quickstart.py", f"--workdir={workdir}",
                  "--config.prune.ratios=(0.5, 1.5)")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: config.prune.ratios: 1.5 is out of range; allowed: [0, 1)")
    assert not workdir.exists()


def test_cli_refuses_unknown_key_and_wrong_type(tmp_path):
    result = _run("--config", "configs/quickstart.py", f"--workdir={tmp_path}",
                  "--config.prune.ratio=0.5")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --config.prune.ratio: unknown key; did you mean prune.ratios? keys of prune: "
        "budget_tolerance, channel_multiple, cycles, dead_weights, gmp_end, gmp_frequency, "
        "method, methods, ratios, retrain_epochs, retrain_schedule, rewind, rewind_epoch, "
        "spacing")
    result = _run("--config", "configs/quickstart.py", f"--workdir={tmp_path}",
                  "--config.train.epochs=many")
    assert result.returncode != 0 and "train.epochs" in result.stderr


def test_resnet20_arguments_compose_and_unknown_ones_are_refused():
    resnet20 = config_file("resnet20")
    quick_robust = resnet20("quick,robust")
    config_lib.validate(quick_robust)
    assert quick_robust.data.train_shift == "corruptions" and quick_robust.train.epochs == 10
    assert len(quick_robust.eval.corruptions) == 19
    held_out = quick_robust.eval.groups[1]
    assert held_out.startswith("test=cifar10_1,") and "fog_3" in held_out
    assert "snow_3" not in held_out  # a training corruption
    config_lib.validate(resnet20(""))
    with pytest.raises(ValueError, match="unknown argument 'fast'"):
        resnet20("fast")
