"""The on-device evaluation kit end to end: bundle a finished run, run the kit in a virtual
environment that holds only numpy and ai-edge-litert (no TensorFlow, nothing downloaded),
merge the results back; a tampered kit and another run's results are refused."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap

import numpy as np
import pytest

import tfprune  # noqa: F401

from conftest import ROOT
from export import devices, runner
from export import kit as kit_lib
from tfprune import config as config_lib
from tfprune import data, pipeline, workdir
from tfprune import errors

RUN = ["--config", "configs/quickstart.py", "--config.train.epochs=3",
       "--config.prune.spacing=('geometric(0.6, 0.2, 2)',)", "--config.prune.retrain_epochs=1",
       "--config.eval.corruptions=('gaussian_noise', 'contrast')", "--config.eval.noise_images=0",
       "--config.eval.reference_network=False", "--config.eval.control_network=False",
       "--config.export.variants=('float32', 'dynamic_int8')"]
DEVICE = "test-device"
# What the device environment may hold: these packages and whatever they import.
DEVICE_PACKAGES = "import numpy; from ai_edge_litert import interpreter"


def _run(*command, cwd=ROOT, env=None):
    return subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=env)


def _results(workdir):
    with open(os.path.join(workdir, "results.json")) as stream:
        return json.load(stream)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("run"))
    result = _run(sys.executable, "-m", "tfprune.run", *RUN, f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.fixture(scope="module")
def kit(run_dir, tmp_path_factory):
    """The kit built by the CLI, and its unpacked directory."""
    out = str(tmp_path_factory.mktemp("kit") / "kit.tar.gz")
    result = _run(sys.executable, "-m", "export.bundle", f"--workdir={run_dir}", f"--out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    with tarfile.open(out) as tar:
        tar.extractall(os.path.dirname(out), filter="data")
    print(f"kit size: {os.path.getsize(out)} bytes")
    return out, os.path.join(os.path.dirname(out), "kit")


# Run in a fresh interpreter: prints the site-packages paths that DEVICE_PACKAGES load.
PROBE = DEVICE_PACKAGES + textwrap.dedent("""
    import importlib.metadata, json, os, site, sys
    roots = tuple(site.getsitepackages())
    tops = {name.split(".")[0] for name, module in list(sys.modules.items())
            if (getattr(module, "__file__", None) or "").startswith(roots)}
    tops.discard("_distutils_hack")  # setuptools' .pth hook, loaded at start-up
    owners = importlib.metadata.packages_distributions()
    paths = set()
    for top in tops:
        module = sys.modules[top]
        path = os.path.dirname(module.__file__) if hasattr(module, "__path__") else module.__file__
        paths.add(path)
        libraries = os.path.join(os.path.dirname(path), top + ".libs")  # auditwheel's
        if os.path.isdir(libraries):
            paths.add(libraries)
        for owner in owners.get(top, []):
            metadata = [f for f in importlib.metadata.distribution(owner).files
                        if f.name == "METADATA"]
            paths.update(os.path.dirname(f.locate()) for f in metadata)
    print(json.dumps(sorted(paths)))
""")


def _runtime_paths():
    """Files of this interpreter's site-packages that numpy and ai-edge-litert load: their
    packages, bundled libraries (<name>.libs) and metadata (dist-info)."""
    result = _run(sys.executable, "-c", PROBE)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def device_python(tmp_path_factory):
    """A virtual environment with only numpy and ai-edge-litert: symlinks into this
    interpreter's site-packages, nothing downloaded."""
    home = tmp_path_factory.mktemp("device") / "venv"
    result = _run(sys.executable, "-m", "venv", "--without-pip", str(home))
    assert result.returncode == 0, result.stderr
    python = str(home / "bin" / "python")
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                env=_device_env()).stdout.strip()
    for path in _runtime_paths():
        os.symlink(path, os.path.join(site, os.path.basename(path)))
    return python


def _device_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _on_device(python, kit_dir, out, *options):
    return _run(python, os.path.join(kit_dir, "runner.py"), kit_dir, "--threads=2",
                f"--out={out}", f"--device={DEVICE}", *options, cwd=os.path.dirname(out),
                env=_device_env())


@pytest.fixture(scope="module")
def device_results(kit, device_python):
    out = os.path.join(os.path.dirname(kit[0]), "device_results.json")
    result = _on_device(device_python, kit[1], out)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out) as stream:
        return out, json.load(stream)


def test_the_device_environment_has_numpy_and_litert_but_no_tensorflow(device_python):
    assert _run(device_python, "-c", DEVICE_PACKAGES, env=_device_env()).returncode == 0
    for module in ("tensorflow", "tfprune", "keras"):
        result = _run(device_python, "-c", f"import {module}", cwd="/", env=_device_env())
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, module


def test_kit_holds_every_exported_file_and_the_images_the_host_evaluated(run_dir, kit):
    _, kit_dir = kit
    with open(os.path.join(kit_dir, "manifest.json")) as stream:
        manifest = json.load(stream)
    assert manifest["run"]["fingerprint"] == devices.run_fingerprint(run_dir)
    assert manifest["variants"] == ["dynamic_int8", "float32"]  # found in WORKDIR/tflite
    assert {m["id"] for m in manifest["models"]} == {
        os.path.basename(p)[:-len(".tflite")]
        for p in glob.glob(os.path.join(run_dir, "tflite", "*.tflite"))}
    assert [d["name"] for d in manifest["distributions"]] == ["nominal", "gaussian_noise_3",
                                                              "contrast_3"]
    for name, digest in manifest["files"].items():
        assert runner.sha256_of(os.path.join(kit_dir, name)) == digest
    assert {"runner.py", "litert.py"} <= set(manifest["files"])
    config = workdir.stored_config(run_dir, config_lib.base())
    host_images = {"nominal": data.load(config.data, config.seed).test_images}
    for name in ("gaussian_noise", "contrast"):
        [cached] = glob.glob(os.path.join(run_dir, "cache", f"*-{name}-3-seed0.npy"))
        host_images[f"{name}_3"] = np.load(cached)
    for name, images in host_images.items():
        with np.load(os.path.join(kit_dir, "data", f"{name}.npz"), allow_pickle=False) as kit_data:
            assert kit_data["images"].dtype == np.uint8
            np.testing.assert_array_equal(kit_data["images"], images)
            assert len(kit_data["labels"]) == len(images)


def test_device_figures_equal_the_hosts_and_merge_folds_them(run_dir, device_results):
    path, measured = device_results
    assert measured["device"]["interpreter"]["package"] == "ai-edge-litert"
    assert measured["device"]["cpu"] and measured["settings"]["threads"] == 2
    result = _run(sys.executable, "-m", "export.merge", f"--workdir={run_dir}", path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Keras / TFLite on this host / TFLite on device 'test-device'" in result.stdout
    speedups = result.stdout.split("speed-up over the parent's file of the same variant at "
                                   "batch 1: this host / 'test-device'")[1].splitlines()
    assert speedups[1].split() == ["network", "dynamic_int8", "float32", "FLOP", "red.", "tiled"]
    rows = speedups[2:speedups.index("")]
    assert [row.split()[0] for row in rows] == [
        f"wt-{c['index']:02d}" for c in _results(run_dir)["methods"]["wt"]["cycles"]]
    assert all(row.split()[-2:] == ["1.00x", "1.00x"] for row in rows)  # WT keeps its shape
    results = _results(run_dir)
    device = results["devices"][DEVICE]
    networks = {"parent": results["parent"],
                **{f"wt-{c['index']:02d}": c for c in results["methods"]["wt"]["cycles"]}}
    assert set(device["networks"]) == set(networks)
    for network, host in networks.items():
        for variant, on_device in device["networks"][network].items():
            # Same interpreter, same images, same batches: the same predictions.
            assert all(on_device["identical_to_host"].values()), (network, variant)
            assert on_device["accuracy"] == host["export"][variant]["accuracy"]
            assert on_device["latency"]["median_ms"] > 0
            if network == "parent":
                assert on_device["parent_latency"] is on_device["speedup_vs_parent"] is None
            else:  # timed in the same rounds as the parent's file of the same variant
                parent_ms = on_device["parent_latency"]["median_ms"]
                assert on_device["speedup_vs_parent"] == pytest.approx(
                    parent_ms / on_device["latency"]["median_ms"])
    potential = device["prune_potential"]["wt"]
    host_potential = results["methods"]["wt"]["export"]["float32"]["prune_potential"]
    assert potential["float32"]["device"] == host_potential
    for variant, exported in results["methods"]["wt"]["export"].items():
        assert potential[variant]["device"] == potential[variant]["host"]
        assert potential[variant]["host"] == exported["prune_potential"]
    assert device["incomplete"] == {}
    assert os.path.exists(os.path.join(run_dir, "devices", f"{DEVICE}.json"))


def test_results_rebuilt_by_the_pipeline_keep_the_merged_device(run_dir, device_results):
    if DEVICE not in _results(run_dir).get("devices", {}):
        devices.merge(run_dir, [device_results[0]], log=lambda _: None)
    results = _results(run_dir)
    merged = results.pop("devices")
    # tfprune.run rebuilds results.json from the stored outputs, then folds WORKDIR/devices/.
    assert devices.stored_devices(run_dir, results) == merged


def test_an_interrupted_device_run_continues_with_the_next_model(kit, device_python,
                                                                 device_results, tmp_path):
    path, complete = device_results
    out = str(tmp_path / "partial.json")
    partial = dict(complete, models=dict(list(complete["models"].items())[:2]))
    with open(out, "w") as stream:
        json.dump(partial, stream)
    result = _on_device(device_python, kit[1], out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 models done before, kept" in result.stdout
    with open(out) as stream:
        continued = json.load(stream)
    assert list(continued["models"]) == list(complete["models"])
    for model_id, kept in partial["models"].items():
        assert continued["models"][model_id] == kept  # not measured again
    other_settings = _on_device(device_python, kit[1], out, "--latency-runs=3")
    assert other_settings.returncode == 2 and "latency_runs" in other_settings.stderr


def test_a_tampered_kit_is_refused_with_one_line(kit, device_python, tmp_path):
    tampered = str(tmp_path / "kit")
    shutil.copytree(kit[1], tampered)
    model = os.path.join(tampered, "models", "wt-02.float32.tflite")
    content = bytearray(open(model, "rb").read())
    content[len(content) // 2] ^= 0xFF
    open(model, "wb").write(bytes(content))
    out = str(tmp_path / "device_results.json")
    result = _on_device(device_python, tampered, out)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {model}: checksum mismatch (the file was changed or damaged in transfer); "
        "copy the kit again"]
    assert not os.path.exists(out)


@pytest.fixture(scope="module")
def other_run(tmp_path_factory):
    """Another finished run of the same config: another parent."""
    workdir = str(tmp_path_factory.mktemp("other_run"))
    result = _run(sys.executable, "-m", "tfprune.run", *RUN[:2], "--config.train.epochs=1",
                  "--config.data.max_train_examples=256",
                  "--config.prune.spacing=('geometric(0.5, 0.5, 1)',)",
                  "--config.prune.retrain_epochs=1", "--config.eval.corruptions=()",
                  "--config.eval.noise_images=0", "--config.eval.reference_network=False",
                  "--config.export.tflite=False", "--config.eval.stop_at_chance_parent=False",
                  "--config.eval.control_network=False",
                  f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_merge_refuses_results_of_another_run_or_of_files_exported_again(
        run_dir, other_run, device_results, tmp_path):
    path, measured = device_results
    before = open(os.path.join(other_run, "results.json")).read()
    with pytest.raises(errors.ConfigError, match="comes from a kit of another run"):
        devices.merge(other_run, [path])
    assert open(os.path.join(other_run, "results.json")).read() == before
    assert not os.path.exists(os.path.join(other_run, "devices"))
    stale = json.loads(json.dumps(measured))
    stale["models"]["parent.float32"]["sha256"] = "0" * 64
    stale_path = str(tmp_path / "stale.json")
    with open(stale_path, "w") as stream:
        json.dump(stale, stream)
    with pytest.raises(errors.ConfigError, match="exported again since"):
        devices.merge(run_dir, [stale_path])


def test_bundle_names_what_is_available_for_an_unknown_variant_or_distribution(run_dir, tmp_path):
    out = str(tmp_path / "kit.tar.gz")
    with pytest.raises(errors.ConfigError,
                       match="--variants: 'int4' is not in the run; available: dynamic_int8, "
                             "float32"):
        kit_lib.build(run_dir, out, variants=["int4"])
    with pytest.raises(errors.ConfigError, match="--distributions: 'fog_5' is not in the run"):
        kit_lib.build(run_dir, out, distribution_names=["fog_5"])
    assert not os.path.exists(out)
