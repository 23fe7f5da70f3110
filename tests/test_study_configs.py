"""The shipped study configs run the reference protocol (torchprune paper/lost): seeds,
schedules, spacings, counting rules and distribution groups as the reference sets them; configs/image_folder.py trains each application network on
the folder it is given."""
import importlib.util
import os

import pytest

from conftest import config_file
from tfprune import config as config_lib
from tfprune import corruptions, distributions, errors, models, results, study, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(file, argument=None):
    spec = importlib.util.spec_from_file_location("config_file", os.path.join(ROOT, file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config() if argument is None else module.get_config(argument)
    config_lib.validate(config)
    return config


STUDY_RUNS = [("configs/resnet20.py", None), ("configs/vgg.py", None),
              *(("configs/study.py", name) for name in study.NETWORKS),
              ("configs/resnet20.py", "robust")]


@pytest.mark.parametrize("file,argument", STUDY_RUNS)
def test_study_configs_select_the_reference_rules(file, argument):
    config = _config(file, argument)
    assert config.seeds == (0, 1, 2)
    assert config.prune.retrain_schedule == "as_training"
    assert config.prune.dead_weights == "zero_gradient"
    assert config.prune.budget_tolerance == 0.005
    assert config.data.normalization == "auto" and config.data.name == "cifar10"
    assert config.eval.frost == "photographs"


@pytest.mark.parametrize("file,argument", STUDY_RUNS[:-1])
def test_the_test_group_is_cifar10_1_and_the_19_corruptions_at_severity_3(file, argument):
    config = _config(file, argument)
    names = distributions.names(config.eval)
    groups = results.parse_groups(config.eval.groups, names)
    train_group, test_group = (groups[g] for g in config.eval.excess_error_groups)
    assert train_group == ["nominal"]
    assert sorted(test_group) == sorted(["cifar10_1", *(f"{c}_3" for c in corruptions.NAMES)])
    extra = [n for n in names if n.endswith(("_1", "_2", "_4", "_5")) and n != "cifar10_1"]
    assert len(extra) == 16 and not set(extra) & set(test_group)  # reported, not averaged


def test_vgg_warms_up_10_epochs_and_retrains_halving_every_30_epochs():
    config = _config("configs/vgg.py")
    assert config.train.warmup_epochs == 10
    schedule = train.lr_schedule(config.train, config.prune.retrain_epochs, steps_per_epoch=1,
                                 rescale=config.prune.retrain_schedule == "rescaled")
    assert config.prune.retrain_epochs == 150
    assert schedule.boundaries == [30, 60, 90, 120]
    assert len(config_lib.target_ratios(config.prune)) == 20


def test_resnet20_prunes_23_cycles_through_69_keep_ratios_to_98_percent():
    config = _config("configs/resnet20.py")
    chunks = config_lib.target_chunks(config.prune)
    assert len(chunks) == 23 and sum(len(c) for c in chunks) == 69
    assert config_lib.target_ratios(config.prune)[-1] == pytest.approx(0.98)
    assert config.prune.retrain_epochs == config.train.epochs == 182


def test_robust_arm_retrains_each_of_16_keep_ratios_from_0_80_to_0_03():
    config = _config("configs/resnet20.py", "robust")
    chunks = config_lib.target_chunks(config.prune)
    assert [len(c) for c in chunks] == [1] * 16
    assert chunks[0][0] == pytest.approx(0.80) and chunks[-1][0] == pytest.approx(0.03)
    groups = results.parse_groups(config.eval.groups, distributions.names(config.eval))
    train_group, test_group = (groups[g] for g in config.eval.excess_error_groups)
    assert len(train_group) == 10 and "nominal" in train_group  # nominal + the nine
    assert len(test_group) == 11 and "cifar10_1" in test_group  # CIFAR-10.1 + held-out ten


def test_quick_keeps_the_reference_rules_but_rescales_its_short_retraining():
    config = _config("configs/resnet20.py", "quick")
    assert config.seeds == () and config.prune.dead_weights == "zero_gradient"
    assert config.prune.retrain_schedule == "rescaled"


def test_cpu_runs_six_targets_on_one_cycle_with_its_control():
    config = _config("configs/resnet20.py", "cpu")
    assert config_lib.target_ratios(config.prune) == pytest.approx([0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
    assert config.prune.methods == "wt,ft" and config.eval.control_network
    assert config.train.lr_schedule == "one_cycle" and config.prune.retrain_schedule == "rescaled"
    schedule = train.lr_schedule(config.train, config.prune.retrain_epochs, steps_per_epoch=10,
                                 rescale=True)
    rates = [float(schedule(step)) for step in range(config.prune.retrain_epochs * 10)]
    peak = rates.index(max(rates))  # one cycle up and down within the 8 retraining epochs
    assert max(rates) == pytest.approx(config.train.lr, rel=1e-3)
    assert peak == round(config.train.one_cycle_peak * len(rates))
    assert rates[0] == pytest.approx(config.train.lr / 25, rel=1e-2) and rates[-1] < rates[0]


def test_an_unknown_study_network_is_refused_with_the_allowed_names():
    with pytest.raises(ValueError, match="allowed: resnet20, resnet56"):
        _config("configs/study.py", "resnet21")


@pytest.mark.parametrize("network", list(models.APPLICATIONS))
def test_the_image_folder_config_trains_an_application_on_the_folder_given(network, tmp_path):
    config = config_file("image_folder")(network)
    with pytest.raises(errors.ConfigError, match="data.dir: is empty; data.name=folder"):
        config_lib.validate(config)
    config.data.dir = str(tmp_path)
    config_lib.validate(config)
    assert config.model.name == network and config.data.name == "folder"
    assert config.prune.methods == "wt,sipp,ft,pfp"
    assert len(config.eval.corruptions) == 19 and config.export.variants == ("float32", "int8")
    with pytest.raises(ValueError, match="unknown network 'resnet20'; allowed: mobilenet_v2"):
        config_file("image_folder")("resnet20")
