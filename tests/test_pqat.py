"""The pqat_int8 variant: each network fine-tuned quantization-aware with TF-MOT's
prune-preserving scheme, then converted to full integer. Its pruned zeros survive in the
file, it is evaluated beside post-training int8 for WT (dense) and FT (physically shrunk)
networks, a rerun converts from the stored fine-tuned weights, a changed export.pqat_*
key fine-tunes again, and bad values are refused in one line."""
import shutil

import numpy as np
import pytest
from ai_edge_litert import interpreter as litert_interpreter

import tfprune  # noqa: F401
import tensorflow as tf

from conftest import tiny_config
from export import litert
from tfprune import config as config_lib
from tfprune import errors, pipeline, storage, tables, workdir

VARIANTS = ("int8", "pqat_int8")
KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def pqat_config():
    """The tiny run (1 epoch, 1 cycle) with WT and FT, int8 and pqat_int8, 1 PQAT epoch."""
    config = tiny_config()
    config.prune.ratios = (0.5,)
    config.prune.methods = "wt,ft"
    config.export.variants = VARIANTS
    config.export.pqat_epochs = 1
    return config


def run(run_dir, config=None):
    logs = []
    return pipeline.run(config or pqat_config(), run_dir, log=logs.append), logs


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("pqat") / "run")
    results, logs = run(run_dir)
    return run_dir, results, logs


@pytest.fixture
def copy(finished, tmp_path):
    path = str(tmp_path / "copy")
    shutil.copytree(finished[0], path)
    return path


def _keras_zeros(checkpoint):
    """Zero kernel weights of a stripped checkpoint's convolutions and dense layers."""
    model = storage.load_model(checkpoint)
    kinds = (tf.keras.layers.Conv2D, tf.keras.layers.Dense)
    return sum(int(np.sum(layer.get_weights()[0] == 0)) for layer in model.layers
               if isinstance(layer, kinds))


def _file_kernel_zeros(path):
    """Zero int8 weights in the filters of the file's convolution and dense ops."""
    interpreter = litert_interpreter.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    filters = {op["inputs"][1] for op in interpreter._get_ops_details()
               if op["op_name"] in KERNEL_OPS}
    weights = [interpreter.get_tensor(index) for index in filters]
    assert all(w.dtype == np.int8 for w in weights)
    return sum(int(np.sum(w == 0)) for w in weights)


def test_pqat_is_evaluated_beside_post_training_int8(finished):
    run_dir, results, logs = finished
    for method in ("wt", "ft"):
        summary = results["methods"][method]
        assert set(summary["export"]) == set(VARIANTS)
        for variant in VARIANTS:
            assert set(summary["export"][variant]["prune_potential"]) == set(
                results["distributions"])
        for cycle in summary["cycles"]:
            entry = cycle["export"]["pqat_int8"]
            assert set(entry["accuracy"]) == set(results["distributions"])
            assert entry["pqat_history"]["loss"] and len(entry["pqat_history"]["loss"]) == 1
            runner = litert.TFLiteModel(f"{run_dir}/{entry['file']}")
            assert [runner._input["dtype"], runner._output["dtype"]] == [np.int8, np.int8]
    assert sum("PQAT fine-tuning" in line for line in logs) == 3  # parent, a cycle each
    assert any(line.startswith("distribution") and line.split()[-2:] == list(VARIANTS)
               for line in tables.table(results).splitlines())


def test_pruned_zeros_survive_in_the_pqat_file(finished):
    run_dir, results, _ = finished
    for cycle in results["methods"]["wt"]["cycles"]:
        network = workdir.cycle_id("wt", results["methods"]["wt"]["cycles"].index(cycle) + 1)
        entry = cycle["export"]["pqat_int8"]
        zeros = _keras_zeros(workdir.checkpoint(run_dir, network))
        assert zeros > 0.2 * entry["params"]
        assert entry["pruned_zeros"] == zeros
        assert entry["pruned_zeros_kept"] == 1.0
        assert _file_kernel_zeros(f"{run_dir}/{entry['file']}") >= zeros
    assert "pruned zeros still zero in the file: at least 100.0%" in tables.table(results)


def test_shrunk_networks_are_fine_tuned_too(finished):
    _, results, _ = finished
    parent = results["parent"]["export"]["pqat_int8"]
    for cycle in results["methods"]["ft"]["cycles"]:
        entry = cycle["export"]["pqat_int8"]
        assert entry["params"] == cycle["export"]["int8"]["params"] < parent["params"]
        assert entry["pruned_zeros_kept"] in (None, 1.0)  # None: shrinking left no zero


def test_a_rerun_converts_from_the_stored_fine_tuned_weights(finished, copy):
    path = workdir.tflite_file(copy, "wt-01", "pqat_int8")
    before = storage.file_digest(path)
    storage.remove_file(path)
    results, logs = run(copy)
    assert not any("PQAT fine-tuning" in line for line in logs)
    assert any("exported tflite/wt-01.pqat_int8.tflite" in line for line in logs)
    assert storage.file_digest(path) == before  # the same network, the same bytes
    assert results["methods"]["wt"]["cycles"][0]["export"]["pqat_int8"]["pruned_zeros_kept"] == 1


def test_a_changed_pqat_key_fine_tunes_again(finished, copy):
    config = pqat_config()
    config.prune.methods = "wt"
    config.export.pqat_lr = 2e-3
    _, logs = run(copy, config)
    assert sum("PQAT fine-tuning" in line for line in logs) == 2  # parent, wt-01
    assert any("pqat settings changed" in line for line in logs)
    assert any("wt-01.pqat_int8.tflite: exporting it again (its PQAT weights changed"
               in line for line in logs)


@pytest.mark.parametrize("key, value", [("pqat_epochs", 0), ("pqat_lr", 0.0),
                                        ("pqat_lr", 2.0)])
def test_bad_pqat_values_are_refused_in_one_line(key, value):
    config = pqat_config()
    config.export[key] = value
    with pytest.raises(errors.ConfigError) as raised:
        config_lib.validate(config)
    message = str(raised.value)
    assert f"export.{key}" in message and "allowed" in message and "\n" not in message
