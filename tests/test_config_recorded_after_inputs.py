"""A run that fails before any work (a data.dir typo) leaves no config.json behind, so the
corrected command continues in the same workdir without --fresh: config.json is written
once the data and the test distributions are ready."""
import os

import pytest

from conftest import config_file
from tfprune import errors, pipeline, workdir
from tfprune import config as config_lib


def test_a_data_dir_typo_leaves_no_config_record(tmp_path):
    run_dir = str(tmp_path / "run")
    config = config_file("quickstart")()
    config.data.name, config.data.dir = "cifar10", str(tmp_path / "cifar-typo")
    with pytest.raises(errors.DataError, match="is not a folder"):
        pipeline.run(config, run_dir, log=lambda _: None)
    assert not os.path.exists(os.path.join(run_dir, "config.json"))
    config.data.dir = str(tmp_path / "cifar-corrected")
    workdir.check(config, run_dir, config_lib.base())  # another data.dir: not refused


def test_missing_frost_photographs_leave_no_config_record(tmp_path):
    """The data loads, the test distributions do not: still no run is recorded."""
    run_dir = str(tmp_path / "run")
    config = config_file("quickstart")()
    config.eval.corruptions, config.eval.frost = ("frost",), "photographs"
    config.eval.frost_dir = str(tmp_path / "no-photographs")
    with pytest.raises(errors.DataError, match="frost photograph .* is missing"):
        pipeline.run(config, run_dir, log=lambda _: None)
    assert not os.path.exists(os.path.join(run_dir, "config.json"))
