"""tfprune.report builds report.md and readable PNG figures from results.json alone,
for full, partial and empty runs, with optional later features, and compares runs."""
import json
import os
import re
import subprocess
import sys
import types

import numpy as np
from PIL import Image

from conftest import ROOT
from tfprune import metrics, report
from tfprune.report import figures, plot, reader

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CORRUPTED = ("gaussian_noise_3", "contrast_3")
DISTRIBUTIONS = ("nominal", *CORRUPTED)
FINGERPRINT = "0c6537e45bfb"


def _export(accuracy, index, tflite=True):
    """A network's `export` mapping: its float32 file's entry, or none when not exported."""
    if not tflite:
        return {}
    return dict(float32=dict(
        file=f"tflite/net-{index:02d}.float32.tflite", size_bytes=100_000 - 1000 * index,
        delegate="default (XNNPACK)", accuracy=dict(accuracy),
        agreement_with_keras={d: 1.0 for d in accuracy}))


def make_results(methods=("wt", "sipp"), cycles=3, tflite=True, seed=0, groups=True):
    """A results.json as tfprune.results.build writes it (schema version 1, without the
    `tflite` copies of export["float32"]); without `groups`, as the first version wrote it."""
    rng = np.random.default_rng(seed)
    parent_accuracy = dict(nominal=0.94, gaussian_noise_3=0.90, contrast_3=0.60)
    ratios = [0.3, 0.64, 0.81, 0.9, 0.95][:cycles]
    results = dict(
        config=dict(data=dict(name="digits"), model=dict(name="cnn_small"),
                    eval=dict(corruptions=["gaussian_noise", "contrast"], severities=[3],
                              corruption_seed=0, cache_dir="", delta=0.5),
                    prune=dict(method=list(methods)), seed=seed),
        dataset=dict(name="digits", source="scikit-learn digits", num_classes=10, num_test=449,
                     num_train=1213, num_val=135),
        delta=0.5, schema_version=2,
        distributions={d: dict(source="test split" if d == "nominal" else "generated")
                       for d in DISTRIBUTIONS},
        parent=dict(params=24346, accuracy=parent_accuracy,
                    export=_export(parent_accuracy, 0, tflite)),
        methods={})
    if groups:
        results["groups"] = dict(nominal=["nominal"], corrupted=list(CORRUPTED))
    for k, method in enumerate(methods):
        records = []
        for index, ratio in enumerate(ratios, 1):
            accuracy = {d: float(np.clip(a - 0.3 * ratio ** 4 * (1 + k) + rng.normal(0, 0.01),
                                         0, 1)) for d, a in parent_accuracy.items()}
            error = {d: 1 - a for d, a in accuracy.items()}
            records.append(dict(
                index=index, method=method, target_ratio=ratio, prune_ratio=ratio + 1e-5,
                params_nonzero=int(24346 * (1 - ratio)), params_total=24346,
                layer_sparsity=dict(conv2d=ratio / 2, dense=ratio), train_seconds=10.0,
                accuracy=accuracy, agreement_with_parent={d: 0.95 for d in accuracy},
                excess_error=metrics.group_excess_error(
                    error, {d: 1 - a for d, a in parent_accuracy.items()}, ["nominal"],
                    list(CORRUPTED)),
                excess_error_by_distribution={
                    d: metrics.excess_error(error[d], error["nominal"], 1 - parent_accuracy[d],
                                            1 - parent_accuracy["nominal"]) for d in accuracy},
                export=_export(accuracy, index, tflite)))
        summary = dict(cycles=records)
        xs = [c["prune_ratio"] for c in records]
        summary["prune_potential"] = {
            d: metrics.prune_potential(xs, [1 - c["accuracy"][d] for c in records],
                                       1 - parent_accuracy[d], 0.5) for d in DISTRIBUTIONS}
        summary["export"] = dict(float32=dict(
            prune_potential=dict(summary["prune_potential"]), differs_by_more_than_a_step=[],
            conclusion_holds=True)) if tflite else {}
        summary["excess_error_slope"] = metrics.zero_intercept_slope(
            xs, [c["excess_error"] for c in records])
        summary["excess_error_slope_by_distribution"] = {
            d: metrics.zero_intercept_slope(
                xs, [c["excess_error_by_distribution"][d] for c in records])
            for d in DISTRIBUTIONS}
        results["methods"][method] = summary
    return results


def make_workdir(path, results, cache=True):
    os.makedirs(path, exist_ok=True)
    if results is not None:
        with open(os.path.join(path, "results.json"), "w") as stream:
            json.dump(results, stream)
    if cache:
        os.makedirs(os.path.join(path, "cache"), exist_ok=True)
        rng = np.random.default_rng(1)
        for name in CORRUPTED:
            corruption, severity = name.rsplit("_", 1)
            np.save(os.path.join(path, "cache", f"digits-{FINGERPRINT}-{corruption}-{severity}"
                                                f"-seed0.npy"),
                    rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    return str(path)


def check_report(workdir, expected=(), absent=()):
    """report.md links every figure it names, each a valid, sizeable PNG; returns its text."""
    with open(os.path.join(workdir, "report.md")) as stream:
        text = stream.read()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    for name in expected:
        assert f"report/{name}" in links, (name, links)
    for name in absent:
        assert f"report/{name}" not in links
        assert not os.path.exists(os.path.join(workdir, "report", name))
    for link in links:
        path = os.path.join(workdir, link)
        with open(path, "rb") as stream:
            payload = stream.read()
        assert payload[:8] == PNG_SIGNATURE, link
        assert len(payload) > 5000, (link, len(payload))
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.width >= 400 and image.height >= 200, (link, image.size)
    assert sorted(os.listdir(os.path.join(workdir, "report"))) == sorted(
        os.path.basename(link) for link in links)  # no temporary or stale files
    return text


FULL_FIGURES = ("accuracy_groups.png", "accuracy_distributions.png",
                "prune_potential_keras.png", "prune_potential_tflite.png", "excess_error.png",
                "keras_vs_tflite.png", "corruption_samples.png")


def test_full_run(tmp_path):
    workdir = make_workdir(tmp_path / "full", make_results())
    path = report.write_report(workdir)
    assert path == os.path.join(workdir, "report.md")
    text = check_report(workdir, FULL_FIGURES, absent=("noise_similarity.png",
                                                       "calibration.png"))
    assert "| distribution | wt Keras | wt TFLite | sipp Keras | sipp TFLite |" in text
    assert "not measured in this run" in text  # noise similarity
    assert "Calibration (ECE): not measured" in text
    assert "cnn_small" in text and "digits" in text
    assert "- **TFLite**: parent exported (default (XNNPACK))" in text


def test_partial_run_and_stale_figures(tmp_path):
    workdir = make_workdir(tmp_path / "partial", make_results())
    report.write_report(workdir)
    with open(os.path.join(workdir, "results.json"), "w") as stream:
        json.dump(make_results(methods=("wt",), cycles=1, tflite=False, groups=False), stream)
    report.write_report(workdir)
    text = check_report(workdir, ("accuracy_groups.png", "prune_potential_keras.png",
                                  "excess_error.png", "corruption_samples.png"),
                        absent=("prune_potential_tflite.png", "keras_vs_tflite.png"))
    assert "wt (1 cycle, 30% to 30% of parameters removed)" in text
    assert "No TFLite prune potential for wt" in text
    assert "- **TFLite**: not exported in this run" in text


def test_no_methods_no_cache(tmp_path):
    results = make_results()
    results["methods"] = {}
    workdir = make_workdir(tmp_path / "empty", results)
    report.write_report(workdir)
    text = check_report(workdir, ("corruption_samples.png",), absent=("accuracy_groups.png",))
    assert "none evaluated yet" in text and "No prune potential yet" in text

    workdir = make_workdir(tmp_path / "nocache", make_results(), cache=False)
    report.write_report(workdir)
    text = check_report(workdir, ("accuracy_groups.png",), absent=("corruption_samples.png",))
    assert "no cached corrupted test set" in text


def test_later_features_groups_noise_ece_export(tmp_path):
    results = make_results()
    results["groups"] = {"noise": ["gaussian_noise_3"], "digital": ["contrast_3", "nominal"]}
    results["unavailable"] = {"cifar10_1": "offline"}
    eps = [0.0, 0.1, 0.3, 0.7]
    curve = [0.9, 0.8, 0.6, 0.3]
    for k, summary in enumerate(results["methods"].values()):
        cycles = summary["cycles"]
        summary["noise"] = dict(eps=eps, prune_potential=[0.9, 0.8 - 0.1 * k, 0.64, 0.3],
                                accuracy=[curve for _ in cycles],  # [[per eps] per cycle]
                                agreement=[[1.0 - e * (0.2 + 0.1 * c) for e in eps]
                                           for c in range(len(cycles))])
        summary["export"]["int8"] = dict(prune_potential={d: 0.64 for d in DISTRIBUTIONS})
        for cycle in cycles:
            cycle["ece"] = {d: 0.02 + 0.05 * cycle["prune_ratio"] + 0.01 * k
                            for d in DISTRIBUTIONS}
    results["parent"].update(ece={d: 0.03 for d in DISTRIBUTIONS},
                             noise=dict(eps=eps, accuracy=curve))
    results["reference"] = dict(accuracy={d: 0.9 for d in DISTRIBUTIONS},
                                ece={d: 0.04 for d in DISTRIBUTIONS},
                                noise=dict(eps=eps, accuracy=curve, agreement=[1.0, 0.9, 0.7, 0.4]))
    workdir = make_workdir(tmp_path / "later", results)
    report.write_report(workdir)
    text = check_report(workdir, FULL_FIGURES + ("noise_similarity.png", "calibration.png"))
    assert "sipp int8" in text and "not measured" not in text and "failed" not in text
    assert "cifar10_1 (offline)" in text and "| *digital: mean of 2* |" in text


def test_noise_reader_follows_the_schema_orientation():
    eps = [0.0, 0.5]  # 3 cycles x 2 noise levels, as results.json stores it
    noise = reader.noise(dict(noise=dict(eps=eps, agreement=[[1, 0.9], [1, 0.8], [1, 0.7]])))
    assert noise["agreement"].shape == (2, 3) and noise["prune_potential"] is None
    square = reader.noise(dict(noise=dict(eps=eps, agreement=[[1, 0.9], [1, 0.8]])))
    assert list(square["agreement"][:, 1]) == [1, 0.8]  # cycle-major even when square
    assert reader.noise(dict(noise={})) is None and reader.noise({}) is None
    assert reader.noise(dict(noise=dict(eps="x", agreement=None))) is None


def test_cli_compares_runs_without_tensorflow(tmp_path):
    main = make_workdir(tmp_path / "seed0", make_results(seed=0))
    other = make_workdir(tmp_path / "seed1", make_results(seed=1))
    third = make_workdir(tmp_path / "seed2", make_results(methods=("wt",), seed=2, tflite=False))
    done = subprocess.run(  # -X importtime lists every module imported on stderr
        [sys.executable, "-X", "importtime", "-m", "tfprune.report", "--workdir", main,
         "--compare", other, third], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    assert "matplotlib" in imported and not {"tensorflow", "keras"} & imported
    assert done.stdout.strip() == os.path.join(main, "report.md")
    text = check_report(main, FULL_FIGURES + ("prune_potential_runs.png",))
    assert "## Compared runs" in text
    for name in ("seed0", "seed1", "seed2"):
        assert f"| {name} | wt |" in text


def test_building_a_report_imports_no_tensorflow(tmp_path):
    workdir = make_workdir(tmp_path / "notf", make_results())
    code = ("import sys\n"
            "from tfprune import report\n"
            "path = report.write_report(sys.argv[1])\n"
            "assert 'tensorflow' not in sys.modules, sorted(m for m in sys.modules\n"
            "                                              if m.startswith('tensorflow'))\n"
            "print(path)\n")
    done = subprocess.run([sys.executable, "-c", code, workdir], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == os.path.join(workdir, "report.md")
    check_report(workdir, FULL_FIGURES)


def test_figure_registry_is_the_single_source(tmp_path, monkeypatch):
    """A figure registered in figures.REGISTRY alone is drawn (when it may be), captioned
    and linked, and its file removed once stale, like every registered figure's."""
    drawn = []

    def draw(runs, colours, context, path):
        drawn.append(context["methods"])
        figure = plot.new_figure(6, 4)
        figure.subplots().plot([0, 50, 100], [90, 80, 40], marker="o")
        plot.save(figure, path)
        return "The extra figure's caption.", None

    extra = plot.Figure("Extra figure", "extra.png", draw, needs_methods=True)
    monkeypatch.setattr(figures, "REGISTRY", figures.REGISTRY + (extra,))
    workdir = make_workdir(tmp_path / "extra", make_results())
    report.write_report(workdir)
    text = check_report(workdir, FULL_FIGURES + ("extra.png",))
    assert "### Extra figure" in text and "*The extra figure's caption.*" in text
    assert drawn == [["wt", "sipp"]]

    results = make_results()
    results["methods"] = {}
    workdir = make_workdir(tmp_path / "stale", results, cache=False)
    os.makedirs(os.path.join(workdir, "report"))
    for figure in figures.REGISTRY:  # as an earlier report of this run left them
        with open(os.path.join(workdir, "report", figure.file), "wb") as stream:
            stream.write(PNG_SIGNATURE)
    report.write_report(workdir)
    check_report(workdir, absent=[figure.file for figure in figures.REGISTRY])
    assert len(drawn) == 1  # needs methods, and this run has none


def test_method_colours_declared_in_results_else_free_palette_colours():
    first = types.SimpleNamespace(methods=dict(
        wt=dict(colour=plot.PALETTE[1]), new={}, sipp=dict(colour="not a colour")))
    second = types.SimpleNamespace(methods=dict(
        wt=dict(colour="black"), pfp=dict(colour="tab:blue"), other={}))
    assert plot.colours([first, second]) == dict(  # tab:blue is PALETTE[0]
        wt=plot.PALETTE[1], new=plot.PALETTE[2], sipp=plot.PALETTE[3], pfp="tab:blue",
        other=plot.PALETTE[4])


def test_tflite_prune_potential_is_read_from_export_only():
    potential = {d: 0.5 for d in DISTRIBUTIONS}
    assert reader.variants(dict(tflite_prune_potential=potential)) == {}
    summary = dict(export=dict(float32=dict(prune_potential=potential, conclusion_holds=True),
                               int8=dict(prune_potential=dict(nominal=None)), fp16="broken"))
    assert reader.variants(summary) == dict(float32=potential)  # int8 has no number
    assert reader.export_potential(summary, "float32") is potential
    assert reader.export_potential(summary, "fp16") is None
