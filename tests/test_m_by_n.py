"""m_by_n: TF-MOT's 2:4 sparsity as a method of the cascade. In a run beside wt, its
network holds exactly 2 zeros in every block of 4 input weights of each covered layer
(the first conv, reading 3 channels, stays dense and is listed), TF-MOT's checker
passes on the Keras kernels and on the exported TFLite file, and the record says so;
a cascade of several targets is refused in one line."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

from conftest import tiny_config
from tfprune import config as config_lib, errors, models, pipeline, storage, tables, workdir
from tfprune import wrappers
from tfprune.methods import m_by_n


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("m_by_n"))
    config = tiny_config()
    config.prune.methods = "wt,m_by_n"
    config.prune.ratios = (0.45,)
    config.eval.noise_images = 0
    logs = []
    return run_dir, pipeline.run(config, run_dir, log=logs.append), logs


def test_covered_layers_are_exactly_two_of_four_in_keras(run):
    run_dir, results, _ = run
    network = storage.load_model(workdir.checkpoint(run_dir, workdir.cycle_id("m_by_n", 1)))
    layers = {layer.name: layer for layer in wrappers.prunable_layers(network)}
    record = results["methods"]["m_by_n"]["cycles"][0]["m_by_n"]
    assert record["dense"] == ["conv2d"] and record["covered"] == ["conv2d_1", "conv2d_2",
                                                                   "dense"]
    first = layers["conv2d"].kernel
    assert np.count_nonzero(first.numpy()) == first.shape.num_elements()  # dense
    for name in record["covered"]:
        kernel = layers[name].kernel
        blocks = pruning_utils.weights_rearrange(kernel).numpy().reshape(-1, 4)  # along inputs
        np.testing.assert_array_equal(np.count_nonzero(blocks, axis=1), 2)
        assert pruning_utils.is_pruned_m_by_n(kernel, (2, 4), "C_OUT")
    assert record["keras"] == {name: True for name in record["covered"]}
    assert record["keras_holds"] and record["covered_sparsity"] == 0.5


def test_tfmots_checker_passes_on_the_exported_tflite_file(run):
    run_dir, results, logs = run
    path = workdir.tflite_file(run_dir, workdir.cycle_id("m_by_n", 1), "float32")
    content = storage.read_bytes(path)
    filters = m_by_n.tflite_filters(content)
    assert len(filters) == 4  # 3 convolutions and the classifier
    verdicts = {name: pruning_utils.is_pruned_m_by_n(tf.constant(array), (2, 4), "C_IN")
                for name, array in filters.items()}
    assert sum(verdicts.values()) == 3  # the covered ones; the first conv (3 inputs) is dense
    record = results["methods"]["m_by_n"]["cycles"][0]["m_by_n"]["tflite"]
    assert record["sha256"] == storage.bytes_digest(content)  # the very file exported
    assert record["holds"] and len(record["filters"]) == 3 and len(record["dense"]) == 1
    assert any("2:4 holds in Keras: True, in TFLite: True" in line for line in logs)


def test_its_ratio_is_what_two_of_four_gives_in_the_same_tables_as_wt(run):
    run_dir, results, _ = run
    parent = storage.load_model(workdir.checkpoint(run_dir, workdir.PARENT))
    covered = m_by_n.covered(parent)
    halves = sum(layer.kernel.shape.num_elements() // 2
                 for layer in wrappers.prunable_layers(parent) if layer.name in covered)
    summary = results["methods"]["m_by_n"]
    assert summary["masks"] == "m_by_n" and summary["structured"] is False
    cycle, = summary["cycles"]
    assert cycle["target_ratio"] == 0.45
    assert cycle["prune_ratio"] == pytest.approx(halves / models.count_params(parent), abs=1e-3)
    assert results["methods"]["wt"]["cycles"][0]["prune_ratio"] == pytest.approx(0.45, rel=0.005)
    printed = tables.table(results)
    assert "\nm_by_n: accuracy (%) by prune ratio" in printed and "\nwt: accuracy" in printed


def test_a_cascade_of_several_targets_is_refused_in_one_line():
    config = tiny_config()
    config.prune.methods = "wt,m_by_n"
    with pytest.raises(errors.ConfigError) as refused:
        config_lib.validate(config)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("config.prune.methods: m_by_n prunes once")
    assert "--config.prune.ratios=(0.45,)" in message
