"""python -m tfprune.report --workdir RUN_DIR [--compare RUN_DIR ...]

Writes RUN_DIR/report.md and its figures (RUN_DIR/report/*.png) from the run's
results.json alone, plus image 0 of each cached corrupted test set (RUN_DIR/cache, or
the run's eval.cache_dir) for the corruption samples. A local run needs no TensorFlow:
matplotlib (Agg), numpy and json only, so it takes seconds; a tf.io.gfile run directory
(gs://, ram://) is read and written through tf.io.gfile (tfprune.storage).

`--compare` overlays other runs (seeds, configs): line style per run, and, where several
runs share a method, their mean with a min-max band. Repeat the flag, or list the run
directories after it.

Tolerant by design: a method with few cycles, no TFLite entries, no methods at all,
missing optional keys (`groups`, `noise`, `ece`, export variants) or even a missing
results.json give a report with notes, never an exception. Every file is written
atomically.
"""
import io
import math
import os
import re
import sys

import tfprune  # noqa: F401

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tfprune import storage

NOMINAL = "nominal"  # = tfprune.evaluate.NOMINAL, which imports TensorFlow
FIGURE_DIR = "report"
DPI = 110
# The study's methods first, so each keeps its colour across reports; others follow.
KNOWN_METHODS = ("wt", "sipp", "ft", "pfp")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
RUN_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v"),
              ((0, (1, 3)), "P"))
PARENT_COLOUR = "0.45"
X_LABEL = "prune ratio (% of parameters removed)"
PP_LABEL = "prune potential (% of parameters removed)"
CACHE_FILE = re.compile(r"^(?P<dataset>.+)-(?P<fingerprint>[0-9a-fA-F]+)-(?P<name>[A-Za-z0-9_]+)"
                        r"-(?P<severity>\d+)-seed(?P<seed>\d+)\.npy$")
# Every figure this module may write; those not written this time are removed as stale.
FIGURES = ("accuracy_groups.png", "accuracy_distributions.png", "prune_potential_keras.png",
           "prune_potential_tflite.png", "prune_potential_runs.png", "excess_error.png",
           "noise_similarity.png", "calibration.png", "keras_vs_tflite.png",
           "corruption_samples.png")


# ---------------------------------------------------------------------------
# Reading results.json tolerantly.

class Run:
    """One run directory: its name in legends, its results (or None) and why not."""

    def __init__(self, workdir, name, style):
        self.workdir = workdir
        self.name = name
        self.style = style
        self.results, self.problem = _load_results(workdir)

    @property
    def methods(self):
        methods = (self.results or {}).get("methods")
        if not isinstance(methods, dict):
            return {}
        return {m: s for m, s in methods.items() if isinstance(s, dict)}


def _load_results(workdir):
    path = os.path.join(workdir, "results.json")
    if not storage.exists(path):
        return None, f"`{path}` does not exist yet (the run has not finished its first evaluation)"
    try:
        results = storage.read_json(path)
    except (OSError, ValueError) as error:
        return None, f"`{path}` is unreadable ({error})"
    if not isinstance(results, dict):
        return None, f"`{path}` does not hold a JSON object"
    return results, None


def _dict(value):
    return value if isinstance(value, dict) else {}


def _number(value):
    """A finite float, or nan for anything else (missing, None, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value) if math.isfinite(value) else math.nan


def _config(results):
    return _dict(_dict(results).get("config"))


def _cycles(summary):
    """A method's cycles that have a prune ratio, in order of prune ratio."""
    cycles = [c for c in _dict(summary).get("cycles") or [] if isinstance(c, dict)
              and not math.isnan(_number(c.get("prune_ratio")))]
    return sorted(cycles, key=lambda c: c["prune_ratio"])


def _distributions(results):
    """Nominal first, then the config's corruption x severity order, then any others."""
    results = _dict(results)
    names = set(_dict(results.get("distributions")))
    names |= set(_dict(_dict(results.get("parent")).get("accuracy")))
    for summary in _dict(results.get("methods")).values():
        for cycle in _cycles(summary):
            names |= set(_dict(cycle.get("accuracy")))
    evaluation = _dict(_config(results).get("eval"))
    ordered = [f"{c}_{s}" for c in evaluation.get("corruptions") or []
               for s in evaluation.get("severities") or []]
    head = [NOMINAL] if NOMINAL in names else []
    return head + [n for n in ordered if n in names] + sorted(
        names - set(ordered) - {NOMINAL})


def _groups(results, distributions):
    """{group: [distributions]}: results["groups"] when present, else nominal/corrupted."""
    groups = _dict(_dict(results).get("groups"))
    chosen = {str(g): [d for d in members if d in distributions]
              for g, members in groups.items() if isinstance(members, (list, tuple))}
    chosen = {g: m for g, m in chosen.items() if m}
    if chosen:
        if NOMINAL in distributions and not any(NOMINAL in m for m in chosen.values()):
            chosen = {NOMINAL: [NOMINAL], **chosen}  # the yardstick of every other group
        return chosen
    default = {NOMINAL: [d for d in distributions if d == NOMINAL],
               "corrupted": [d for d in distributions if d != NOMINAL]}
    return {g: m for g, m in default.items() if m}


def _mean(mapping, names):
    values = [_number(_dict(mapping).get(n)) for n in names]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def _variants(summary):
    """{variant: {dist: prune potential}} besides Keras: `<variant>_prune_potential`
    keys (tflite) and, when present, an `export` mapping {variant: {prune_potential}}."""
    variants = {}
    for key, value in _dict(summary).items():
        if key.endswith("_prune_potential") and isinstance(value, dict):
            variants[key[:-len("_prune_potential")]] = value
    for variant, value in _dict(_dict(summary).get("export")).items():
        value = _dict(value)
        potential = value.get("prune_potential", value)
        if variant == "float32" and "tflite" in variants:
            continue  # tflite_prune_potential is the float32 file's
        if isinstance(potential, dict) and variant not in variants:
            variants[str(variant)] = potential
    return {v: p for v, p in variants.items()
            if any(not math.isnan(_number(x)) for x in p.values())}


def _noise(entry):
    """A tolerant reading of entry["noise"] = {eps, agreement, prune_potential}:
    agreement ([[per eps] per cycle], or [per eps] for the reference network) becomes an
    (eps, k) array."""
    noise = _dict(_dict(entry).get("noise"))
    if not isinstance(noise.get("eps"), (list, tuple)):
        return None
    try:
        eps = np.asarray(noise["eps"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    if eps.size == 0 or not np.isfinite(eps).all():
        return None
    agreement = potential = None
    try:
        agreement = np.asarray(noise.get("agreement"), dtype=np.float64)
        if agreement.ndim == 1 and agreement.shape[0] == eps.size:
            agreement = agreement[:, None]
        elif agreement.ndim == 2 and agreement.shape[1] == eps.size:
            agreement = agreement.T  # the schema's [[per eps] per cycle]
        elif agreement.ndim != 2 or agreement.shape[0] != eps.size:
            agreement = None
    except (TypeError, ValueError):
        agreement = None
    try:
        potential = np.asarray(noise.get("prune_potential"), dtype=np.float64).reshape(-1)
        potential = potential if potential.shape == eps.shape else None
    except (TypeError, ValueError):
        potential = None
    if agreement is None and potential is None:
        return None
    return dict(eps=eps, agreement=agreement, prune_potential=potential)


# ---------------------------------------------------------------------------
# Figure helpers.

def _figure(width, height):
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    storage.write_bytes(path, buffer.getvalue())


def _colours(runs):
    names = []
    for run in runs:
        names += [m for m in run.methods if m not in names]
    known = [m for m in KNOWN_METHODS if m in names]
    others = sorted(m for m in names if m not in KNOWN_METHODS)
    colours = {m: PALETTE[KNOWN_METHODS.index(m)] for m in known}
    for i, method in enumerate(others):
        colours[method] = PALETTE[(len(KNOWN_METHODS) + i) % len(PALETTE)]
    return colours


def _panels(figure, count, columns):
    rows = math.ceil(count / columns)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return axes[:count]


def _grid_shape(count):
    columns = 1 if count == 1 else 2 if count <= 4 else 3 if count <= 9 else 4 if count <= 16 \
        else 6 if count <= 36 else 8
    return columns, math.ceil(count / columns)


def _legend_handles(runs, colours, methods, parent=True, delta=None, spread=False):
    handles = [Line2D([], [], color=colours[m], lw=2, label=m) for m in methods]
    if len(runs) > 1:
        handles += [Line2D([], [], color="black", linestyle=r.style[0], marker=r.style[1],
                           lw=1, markersize=4, label=f"run {r.name}") for r in runs]
    if spread:
        handles.append(Patch(color="0.6", alpha=0.4,
                             label="mean over runs (thick) and min-max band"))
    if parent and (delta is None or math.isnan(delta)):
        handles.append(Line2D([], [], color=PARENT_COLOUR, lw=1.2, label="parent"))
    elif parent:
        handles.append(Patch(facecolor=PARENT_COLOUR, alpha=0.35, edgecolor=PARENT_COLOUR,
                             label=f"parent (band: within \u03b4 = {delta:g} points below it)"))
    return handles


def _legend(figure, handles):
    if handles:
        figure.legend(handles=handles, loc="outside lower center",
                      ncols=min(len(handles), 4), fontsize=9, frameon=False)


def _curves(ax, runs, colours, value):
    """One line per (run, method) of value(run, cycle) in %, against prune ratio in %;
    the mean and min-max band over runs where several share a method. Returns whether a
    spread was drawn."""
    many = len(runs) > 1
    series = {}
    for run in runs:
        for method, summary in run.methods.items():
            cycles = _cycles(summary)
            x = np.array([100 * c["prune_ratio"] for c in cycles])
            y = np.array([100 * value(run, c) for c in cycles])
            if not np.isfinite(y).any():
                continue
            series.setdefault(method, []).append((x, y))
            ax.plot(x, y, color=colours[method], linestyle=run.style[0], marker=run.style[1],
                    lw=1.0 if many else 1.8, markersize=3.5 if many else 5,
                    alpha=0.75 if many else 1.0)
    spread = False
    for method, lines in series.items():
        length = min(len(x) for x, _ in lines)
        if len(lines) < 2 or length == 0:
            continue
        x = np.mean([x[:length] for x, _ in lines], axis=0)
        ys = np.array([y[:length] for _, y in lines])
        with np.errstate(all="ignore"):
            ax.fill_between(x, np.nanmin(ys, axis=0), np.nanmax(ys, axis=0),
                            color=colours[method], alpha=0.18, lw=0)
            ax.plot(x, np.nanmean(ys, axis=0), color=colours[method], lw=2.8, alpha=0.9)
        spread = True
    ax.set_xlim(0, 100)  # the whole range: a run with few cycles still reads as one
    return spread


def _parent_band(ax, runs, value, delta):
    """The parent's value (%) of each run as a line, with the delta band below it."""
    for run in runs:
        level = 100 * value(run)
        if math.isnan(level):
            continue
        if delta:
            ax.axhspan(level - delta, level, color=PARENT_COLOUR, alpha=0.3, lw=0)
        ax.axhline(level, color=PARENT_COLOUR, linestyle=run.style[0], lw=1.2)


def _small_multiples(names, panel=(3.4, 2.7)):
    """A figure with one panel per distribution: a row per corruption and a column per
    severity when several severities were evaluated (nominal alone on the first row), else
    a compact grid in order. Returns (figure, axes in the order of names, labeller) where
    labeller(xlabel, ylabel) labels the bottom panel of each column and the first of each
    row."""
    parsed = [re.fullmatch(r"(.+)_(\d+)", n) for n in names]
    severities = sorted({int(p[2]) for p in parsed if p})
    if len(severities) > 1 and all(p or n == NOMINAL for p, n in zip(parsed, names)):
        corruptions = list(dict.fromkeys(p[1] for p in parsed if p))
        top = 1 if NOMINAL in names else 0
        positions = [(0, 0) if not p else (top + corruptions.index(p[1]),
                                           severities.index(int(p[2]))) for p in parsed]
        rows, columns = top + len(corruptions), len(severities)
    else:
        columns, rows = _grid_shape(len(names))
        positions = [divmod(i, columns) for i in range(len(names))]
    if rows * columns > 30:
        panel = (panel[0] * 0.9, panel[1] * 0.8)
    figure = _figure(max(panel[0] * columns, 6), panel[1] * rows + 1.0)
    grid = figure.subplots(rows, columns, squeeze=False)
    used = set(positions)
    for (r, c), ax in np.ndenumerate(grid):
        if (r, c) not in used:
            ax.set_visible(False)

    def labeller(xlabel, ylabel):
        for r, c in positions:
            if not any((below, c) in used for below in range(r + 1, rows)):
                grid[r, c].set_xlabel(xlabel, fontsize=9)
            if not any((r, left) in used for left in range(c)):
                grid[r, c].set_ylabel(ylabel, fontsize=9)

    return figure, [grid[p] for p in positions], labeller


def _reference_line(ax, run, value):
    """The separately trained network's value (%), when the run has one; whether drawn."""
    level = 100 * value(_dict(run.results.get("reference")))
    if math.isnan(level):
        return False
    ax.axhline(level, color="black", linestyle=(0, (2, 2)), lw=1.2)
    return True


REFERENCE_HANDLE = Line2D([], [], color="black", linestyle=(0, (2, 2)), lw=1.2,
                          label="separately trained network")


def _finish_axes(ax, title, xlabel=X_LABEL, ylabel="accuracy (%)"):
    ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)


def _group_title(group, members):
    if members == [group]:
        return _label(group)
    if len(members) == 1:
        return f"{_label(group)} ({_label(members[0])})"
    return f"{_label(group)} (mean of {len(members)} distributions)"


def _label(name):
    return name.replace("_", " ")


# ---------------------------------------------------------------------------
# The figures. Each returns (file name, caption) when it drew something, or a note.

def _accuracy_groups(runs, colours, context, path):
    main = runs[0]
    groups = context["groups"]
    if not groups:
        return None, "No distributions in results.json: no accuracy to plot."
    delta = _number(main.results.get("delta"))
    figure = _figure(min(5.2 * len(groups), 16), 4.6)
    axes = _panels(figure, len(groups), min(len(groups), 3))
    spread = reference = False
    for ax, (group, members) in zip(axes, groups.items()):
        parent = lambda run, m=members: _mean(  # noqa: E731
            _dict(_dict(run.results.get("parent")).get("accuracy")), m)
        _parent_band(ax, runs, parent, None if math.isnan(delta) else delta)
        reference |= _reference_line(ax, main,
                                     lambda r, m=members: _mean(r.get("accuracy"), m))
        spread |= _curves(ax, runs, colours,
                          lambda run, cycle, m=members: _mean(cycle.get("accuracy"), m))
        _finish_axes(ax, _group_title(group, members))
    figure.suptitle("Test accuracy (Keras) vs prune ratio, by distribution group")
    _legend(figure, _legend_handles(runs, colours, context["methods"], delta=delta,
                                    spread=spread) + [REFERENCE_HANDLE] * reference)
    _save(figure, path)
    return ("Accuracy of each pruned network against how much of the parent was removed, one "
            "panel per group of distributions (a group shows the mean over its members). The "
            "grey line is the parent; the grey band spans \u03b4 below it: a network inside "
            "or above the band counts towards the prune potential. Curves that fall away "
            "early mean the method cannot prune far without losing accuracy."), None


def _accuracy_distributions(runs, colours, context, path):
    distributions = context["distributions"]
    if not distributions:
        return None, "No distributions in results.json."
    delta = _number(runs[0].results.get("delta"))
    figure, axes, labeller = _small_multiples(distributions)
    spread = reference = False
    for ax, name in zip(axes, distributions):
        parent = lambda run, n=name: _number(  # noqa: E731
            _dict(_dict(run.results.get("parent")).get("accuracy")).get(n))
        _parent_band(ax, runs, parent, None if math.isnan(delta) else delta)
        reference |= _reference_line(ax, runs[0],
                                     lambda r, n=name: _number(_dict(r.get("accuracy")).get(n)))
        spread |= _curves(ax, runs, colours,
                          lambda run, cycle, n=name: _number(_dict(cycle.get("accuracy")).get(n)))
        _finish_axes(ax, _label(name), xlabel=None, ylabel=None)
    labeller(X_LABEL, "accuracy (%)")
    figure.suptitle("Test accuracy (Keras) vs prune ratio, one panel per distribution")
    _legend(figure, _legend_handles(runs, colours, context["methods"], delta=delta,
                                    spread=spread) + [REFERENCE_HANDLE] * reference)
    _save(figure, path)
    return ("The same curves for every distribution on its own (each panel has its own "
            "accuracy scale). Compare how far each curve stays in the parent's band: "
            "distributions where it leaves the band at a lower prune ratio have a lower "
            "prune potential."), None


def _heatmap(run, colours, context, path, key, backend):
    distributions = context["distributions"]
    methods = [m for m in context["methods"] if m in run.methods and isinstance(
        run.methods[m].get(key), dict)]
    if not methods or not distributions:
        return None, None
    values = np.array([[100 * _number(run.methods[m][key].get(d)) for d in distributions]
                       for m in methods])
    transpose = len(distributions) > 16  # many distributions: one row each
    matrix = values.T if transpose else values
    rows, columns = (distributions, methods) if transpose else (methods, distributions)
    figure = _figure(max(5.5, 0.95 * len(columns) + 3.0), max(3.2, 0.42 * len(rows) + 2.2))
    ax = figure.subplots()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for (i, j), v in np.ndenumerate(matrix):
        text = "n/a" if math.isnan(v) else f"{v:.0f}%"
        colour = "black" if math.isnan(v) or v > 55 else "white"
        ax.text(j, i, text, ha="center", va="center", color=colour,
                fontsize=11 if len(columns) <= 8 else 9 if len(columns) < 12 else 7)
    ax.set_xticks(range(len(columns)), [_label(c) for c in columns], rotation=30, ha="right",
                  fontsize=9)
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows], fontsize=9)
    ax.set_xlabel("method" if transpose else "test distribution", fontsize=9)
    ax.set_ylabel("test distribution" if transpose else "method", fontsize=9)
    for label in (ax.get_xticklabels() if transpose else ax.get_yticklabels()):
        label.set_color(colours.get(label.get_text(), "black"))
    bar = figure.colorbar(image, ax=ax, shrink=0.95)
    bar.set_label("prune potential\n(% of parameters removed)", fontsize=9)
    delta = _number(run.results.get("delta"))
    figure.suptitle(f"Prune potential ({backend}, \u03b4 = {delta:g} points), run {run.name}")
    _save(figure, path)
    return (f"Prune potential of each method on each distribution, {backend} networks: the "
            "largest tested prune ratio whose error is at most \u03b4 above the parent's "
            "error on that distribution. Brighter is better; a row much darker on corrupted "
            "distributions than on nominal means pruning costs robustness first."), None


def _prune_potential_runs(runs, colours, context, path):
    distributions = context["distributions"]
    methods = context["methods"]
    if not methods or not distributions:
        return None, None
    width = 0.8 / len(methods)
    figure = _figure(max(7.0, 0.75 * len(distributions) * max(1, len(methods) / 2) + 2.5), 4.8)
    ax = figure.subplots()
    for k, method in enumerate(methods):
        offset = (k - (len(methods) - 1) / 2) * width
        per_run = []
        for r, run in enumerate(runs):
            potential = _dict(run.methods.get(method, {}).get("prune_potential"))
            values = np.array([100 * _number(potential.get(d)) for d in distributions])
            if not np.isfinite(values).any():
                continue
            per_run.append(values)
            jitter = (r - (len(runs) - 1) / 2) * width / (len(runs) + 2)  # markers side by side
            ax.plot(np.arange(len(distributions)) + offset + jitter, values, linestyle="none",
                    marker=run.style[1], color=colours[method], markersize=6,
                    markerfacecolor="none" if run is not runs[0] else colours[method])
        if len(per_run) >= 2:
            stack = np.array(per_run)
            with np.errstate(all="ignore"):
                low, high, mean = (np.nanmin(stack, 0), np.nanmax(stack, 0),
                                   np.nanmean(stack, 0))
            x = np.arange(len(distributions)) + offset
            ax.vlines(x, low, high, color=colours[method], lw=2, alpha=0.5)
            ax.hlines(mean, x - width / 2.5, x + width / 2.5, color=colours[method], lw=2.5)
    ax.set_xticks(range(len(distributions)), [_label(d) for d in distributions], rotation=30,
                  ha="right")
    ax.set_ylim(-3, 103)
    _finish_axes(ax, "", xlabel="test distribution", ylabel=PP_LABEL)
    figure.suptitle("Prune potential (Keras) of every compared run")
    handles = [Line2D([], [], color=colours[m], lw=2.5, label=f"{m}: mean (bar) and min-max "
                      "(line)") for m in methods]
    handles += [Line2D([], [], color="black", linestyle="none", marker=r.style[1],
                       markerfacecolor="black" if r is runs[0] else "none",
                       label=f"run {r.name}") for r in runs]
    _legend(figure, handles)
    _save(figure, path)
    return ("Prune potential per distribution of each run (marker per run, filled for this "
            "run); where several runs share a method, the short horizontal bar is their mean "
            "and the vertical line their range. A long line means the potential depends on "
            "the seed."), None


def _excess_error(runs, colours, context, path):
    shifted = [d for d in context["distributions"] if d != NOMINAL]
    if not shifted:
        return None, "Excess error needs a distribution besides nominal; this run has none."
    if not context["methods"]:
        return None, None
    figure, axes, labeller = _small_multiples(shifted, panel=(3.6, 2.8))
    for ax, name in zip(axes, shifted):
        ax.axhline(0, color=PARENT_COLOUR, lw=1)
        slopes = {}
        top = 0.0
        for run in runs:
            for method, summary in run.methods.items():
                cycles = _cycles(summary)
                x = np.array([100 * c["prune_ratio"] for c in cycles])
                y = np.array([100 * _number(_dict(c.get("excess_error")).get(name))
                              for c in cycles])
                slope = _number(_dict(summary.get("excess_error_slope")).get(name))
                if not np.isfinite(y).any() and math.isnan(slope):
                    continue
                ax.plot(x, y, linestyle="none", marker=run.style[1], color=colours[method],
                        markersize=4.5, alpha=0.85)
                top = max(top, float(np.nanmax(x)) if x.size else 0.0)
                if not math.isnan(slope):
                    slopes.setdefault(method, []).append(slope)
                    line = np.linspace(0, max(top, 1.0), 2)
                    ax.plot(line, slope * line, color=colours[method], linestyle=run.style[0],
                            lw=1.4)
        handles = [Line2D([], [], color=colours[m], lw=1.4,
                          label=f"{m} {100 * np.mean(s):+.1f}"
                          + (f" ({100 * min(s):+.1f} to {100 * max(s):+.1f})" if len(s) > 1
                             else "")) for m, s in slopes.items()]
        if handles:
            ax.legend(handles=handles, fontsize=7, loc="best", frameon=True, framealpha=0.7,
                      handlelength=1.2, title="slope", title_fontsize=7)
        _finish_axes(ax, _label(name), xlabel=None, ylabel=None)
        ax.set_xlim(0, 100)
    labeller(X_LABEL, "excess error (percentage points)")
    figure.suptitle("Excess error vs prune ratio with the zero-intercept linear fit")
    handles = [Line2D([], [], color="black", marker="o", linestyle="none", label="one network"),
               Line2D([], [], color="black", lw=1.4,
                      label="linear fit through 0; 'slope' in each panel: points of excess "
                      "error per 100% pruned")]
    if len(runs) > 1:
        handles += [Line2D([], [], color="black", linestyle=r.style[0], marker=r.style[1],
                           lw=1, markersize=4, label=f"run {r.name}") for r in runs]
    _legend(figure, handles)
    _save(figure, path)
    return ("How much more a corruption hurts each pruned network than it hurts the parent "
            "(0 = exactly as much), with the study's linear fit through the origin. A "
            "positive slope means pruning makes the network more fragile on that "
            "corruption; each panel's legend gives the slope per method."), None


def _noise_similarity(runs, colours, context, path):
    main = runs[0]
    reference = _noise(_dict(main.results.get("reference")))
    by_method = {m: _noise(s) for m, s in main.methods.items()}
    by_method = {m: n for m, n in by_method.items() if n is not None}
    if not by_method and reference is None:
        return None, ("Noise similarity (agreement with the parent under input noise): not "
                      "measured in this run.")
    with_agreement = [m for m, n in by_method.items() if n["agreement"] is not None]
    potential_runs = [(run, m, n) for run in runs for m, n in
                      ((m, _noise(s)) for m, s in run.methods.items())
                      if n is not None and n["prune_potential"] is not None]
    panels = len(with_agreement) + (1 if potential_runs else 0)
    if reference is not None and not with_agreement:
        panels += 1
    figure = _figure(min(5.0 * max(panels, 1), 16), 4.6)
    axes = list(_panels(figure, max(panels, 1), min(max(panels, 1), 3)))
    eps_label = "noise radius \u03b5 (L\u221e, normalised input units)"
    reference_line = None
    if reference is not None and reference["agreement"] is not None:
        reference_line = (reference["eps"], 100 * np.nanmean(reference["agreement"], axis=1))
    for method in with_agreement or ([None] if reference_line else []):
        ax = axes.pop(0)
        if method is not None:
            noise = by_method[method]
            ratios = [100 * c["prune_ratio"] for c in _cycles(main.methods[method])]
            count = noise["agreement"].shape[1]
            for k in range(count):
                shade = 0.35 + 0.65 * (k + 1) / count
                colour = mcolors.to_rgb(colours[method])
                colour = tuple(1 - shade * (1 - c) for c in colour)
                label = (f"{ratios[k]:.0f}% pruned" if k < len(ratios) else f"cycle {k + 1}") \
                    if k in (0, count - 1) else None
                ax.plot(noise["eps"], 100 * noise["agreement"][:, k], color=colour, lw=1.4,
                        marker="o", markersize=3, label=label)
        if reference_line is not None:
            ax.plot(*reference_line, color="black", linestyle="--", lw=1.6,
                    label="separately trained network")
        _finish_axes(ax, f"{method or 'reference'}: agreement with the parent",
                     xlabel=eps_label, ylabel="top-1 agreement with parent (%)")
        ax.legend(fontsize=8, title="lighter = less pruned" if method else None,
                  title_fontsize=8)
    if potential_runs:
        ax = axes.pop(0)
        for run, method, noise in potential_runs:
            ax.plot(noise["eps"], 100 * noise["prune_potential"], color=colours[method],
                    linestyle=run.style[0], marker=run.style[1], markersize=4,
                    label=method if len(runs) == 1 else f"{method}, run {run.name}")
        ax.set_ylim(-3, 103)
        _finish_axes(ax, "noise prune potential", xlabel=eps_label, ylabel=PP_LABEL)
        ax.legend(fontsize=8)
    figure.suptitle("Functional similarity to the parent under uniform input noise")
    _save(figure, path)
    return ("Left: the fraction of noisy inputs on which each pruned network predicts the "
            "parent's label, as the noise grows (darker = more pruned); the dashed line is a "
            "separately trained network, the study's yardstick for 'different'. Right: prune "
            "potential as a function of the noise radius."), None


def _calibration(runs, colours, context, path):
    has_ece = any(isinstance(c.get("ece"), dict) for run in runs for s in run.methods.values()
                  for c in _cycles(s))
    if not has_ece:
        return None, ("Calibration (ECE): not measured in this run (no `ece` entries in its "
                      "cycles).")
    groups = context["groups"]
    figure = _figure(min(5.2 * len(groups), 16), 4.6)
    axes = _panels(figure, len(groups), min(len(groups), 3))
    spread = has_parent = reference = False
    for ax, (group, members) in zip(axes, groups.items()):
        parent = lambda run, m=members: _mean(  # noqa: E731
            _dict(_dict(run.results.get("parent")).get("ece")), m)
        has_parent |= any(not math.isnan(parent(run)) for run in runs)
        _parent_band(ax, runs, parent, None)
        reference |= _reference_line(ax, runs[0], lambda r, m=members: _mean(r.get("ece"), m))
        spread |= _curves(ax, runs, colours,
                          lambda run, cycle, m=members: _mean(cycle.get("ece"), m))
        _finish_axes(ax, _group_title(group, members),
                     ylabel="expected calibration error (%)")
        ax.set_ylim(bottom=0)
    figure.suptitle("Calibration (ECE, lower is better) vs prune ratio")
    _legend(figure, _legend_handles(runs, colours, context["methods"], parent=has_parent,
                                    spread=spread) + [REFERENCE_HANDLE] * reference)
    _save(figure, path)
    return ("Expected calibration error of each pruned network (the gap between confidence "
            "and accuracy; lower is better), grey line = parent. Rising curves mean pruning "
            "makes the network over- or under-confident."), None


def _keras_vs_tflite(runs, colours, context, path):
    main = runs[0]
    distributions = context["distributions"]
    methods = [m for m in context["methods"] if m in main.methods and _variants(main.methods[m])]
    if not methods:
        return None, ("Keras vs TFLite: no exported variant has a prune potential in this run "
                      "(TFLite export off, or not finished for every cycle).")
    variants = []
    for method in methods:
        variants += [v for v in _variants(main.methods[method]) if v not in variants]
    bars = ["keras"] + variants
    width = 0.8 / len(bars)
    hatches = ("", "//", "..", "xx", "\\\\", "++")
    figure = _figure(max(7.0, 0.45 * len(distributions) * len(bars) + 2.5),
                     2.6 * len(methods) + 1.4)
    axes = _panels(figure, len(methods), 1)
    for ax, method in zip(axes, methods):
        summary = main.methods[method]
        potentials = dict(keras=_dict(summary.get("prune_potential")), **_variants(summary))
        keras = np.array([100 * _number(potentials["keras"].get(d)) for d in distributions])
        gaps = []
        for k, bar in enumerate(bars):
            values = np.array([100 * _number(_dict(potentials.get(bar)).get(d))
                               for d in distributions])
            if k:
                difference = np.abs(values - keras)[np.isfinite(values - keras)]
                gaps.append(f"{bar} {difference.max():.1f}" if difference.size else f"{bar} n/a")
            drawn = ax.bar(np.arange(len(distributions)) + (k - (len(bars) - 1) / 2) * width,
                           np.nan_to_num(values), width, color=colours[method],
                           alpha=1.0 if k == 0 else 0.45, hatch=hatches[k % len(hatches)],
                           edgecolor="black", lw=0.6)
            if len(distributions) * len(bars) <= 40:  # few bars: print their values
                ax.bar_label(drawn, ["n/a" if math.isnan(v) else f"{v:.0f}" for v in values],
                             fontsize=7, padding=1)
        ax.set_xticks(range(len(distributions)), [_label(d) for d in distributions],
                      rotation=30, ha="right")
        ax.set_ylim(0, 110)
        _finish_axes(ax, f"{method}: largest difference from Keras: {', '.join(gaps)} points",
                     xlabel=None, ylabel="prune potential\n(% of parameters removed)")
    axes[-1].set_xlabel("test distribution", fontsize=9)
    figure.suptitle(f"Prune potential: Keras vs exported variants, run {main.name}")
    _legend(figure, [Patch(facecolor="0.5", alpha=1.0 if k == 0 else 0.45,
                           hatch=hatches[k % len(hatches)], edgecolor="black",
                           label="Keras" if bar == "keras" else f"{bar} (exported)")
                     for k, bar in enumerate(bars)])
    _save(figure, path)
    return ("Prune potential of the Keras networks (solid) beside the same networks exported "
            "(hatched), per distribution. Equal bars mean export does not change how far the "
            "method can prune; each panel title gives the largest difference per variant."), None


def _cache_images(run):
    """{corruption: {severity: image}} from image 0 of each cached corrupted test set."""
    config = _config(run.results)
    evaluation = _dict(config.get("eval"))
    cache_dir = evaluation.get("cache_dir") or os.path.join(run.workdir, "cache")
    if storage.is_local(cache_dir) and not os.path.isabs(cache_dir) and not os.path.isdir(cache_dir):
        cache_dir = os.path.join(run.workdir, cache_dir)
    if not storage.isdir(cache_dir):
        return {}, cache_dir
    dataset = _dict(_dict(run.results).get("dataset")).get("name") or \
        _dict(config.get("data")).get("name")
    seed = evaluation.get("corruption_seed")
    wanted = set(_distributions(run.results)) - {NOMINAL}
    matches = []
    for file in storage.listdir(cache_dir):
        found = CACHE_FILE.match(file)
        if not found or (dataset and found["dataset"] != dataset) or (
                isinstance(seed, int) and int(found["seed"]) != seed) or (
                wanted and f"{found['name']}_{int(found['severity'])}" not in wanted):
            continue
        matches.append(found)
    if not matches:
        return {}, cache_dir
    fingerprints = [m["fingerprint"] for m in matches]
    fingerprint = max(sorted(set(fingerprints)), key=fingerprints.count)
    images = {}
    for found in matches:
        if found["fingerprint"] != fingerprint:
            continue
        try:
            image = np.asarray(storage.open_array(os.path.join(cache_dir, found.string))[0])
        except (OSError, ValueError, IndexError):
            continue
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.ndim != 3 or image.shape[-1] != 3:
            continue
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        images.setdefault(found["name"], {})[int(found["severity"])] = image
    return images, cache_dir


def _corruption_samples(runs, colours, context, path):
    run = runs[0]
    images, cache_dir = _cache_images(run)
    if not images:
        return None, (f"Corruption samples: no cached corrupted test set of this run in "
                      f"`{cache_dir}`, so no sample grid.")
    corruptions = [d.rsplit("_", 1)[0] for d in context["distributions"] if d != NOMINAL]
    names = [n for n in dict.fromkeys(corruptions) if n in images] + sorted(
        set(images) - set(corruptions))
    severities = sorted({s for per in images.values() for s in per})
    size = max(max(i.shape[0] for per in images.values() for i in per.values()),
               max(i.shape[1] for per in images.values() for i in per.values()))
    gap = max(2, size // 16)
    cell = size + gap
    mosaic = np.full((len(names) * cell + gap, len(severities) * cell + gap, 3), 255, np.uint8)
    for row, name in enumerate(names):
        for column, severity in enumerate(severities):
            top, left = gap + row * cell, gap + column * cell
            image = images[name].get(severity)
            if image is None:
                mosaic[top:top + size, left:left + size] = 225
            else:
                mosaic[top:top + image.shape[0], left:left + image.shape[1]] = image
    tile = 0.95
    figure = _figure(max(5.0, len(severities) * tile + 2.6), len(names) * tile + 1.3)
    ax = figure.subplots()
    ax.imshow(mosaic, interpolation="nearest")
    centres = lambda count: [gap + k * cell + size / 2 for k in range(count)]  # noqa: E731
    ax.set_xticks(centres(len(severities)), [str(s) for s in severities], fontsize=9)
    ax.set_yticks(centres(len(names)), [_label(n) for n in names], fontsize=9)
    ax.set_xlabel("severity (1 = mildest, 5 = strongest)", fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Corruptions used: test image 0 of each\ncached corrupted test set",
                 fontsize=10)
    _save(figure, path)
    return ("The first test image as each corruption of this run saw it (rows) at each "
            "severity evaluated (columns), read from the run's cached corrupted test sets; "
            "the clean image is not stored in the workdir. Grey cells were not evaluated."), None


# ---------------------------------------------------------------------------
# report.md

def _percent(value, digits=1):
    value = _number(value)
    return "n/a" if math.isnan(value) else f"{100 * value:.{digits}f}%"


def _cell(text):
    return str(text).replace("|", "\\|")


def _summary_lines(run, context):
    results = run.results
    config = _config(results)
    dataset = _dict(results.get("dataset"))
    parent = _dict(results.get("parent"))
    lines = []
    name = dataset.get("name") or _dict(config.get("data")).get("name") or "unknown"
    sizes = ", ".join(f"{k} {dataset[f'num_{k}']:,}" for k in ("train", "val", "test")
                      if isinstance(dataset.get(f"num_{k}"), int))
    source = f" ({dataset['source']})" if dataset.get("source") else ""
    lines.append(f"- **Data set**: {name}{source}" + (f"; {sizes}" if sizes else ""))
    params = parent.get("params")
    params = f", {params:,} parameters" if isinstance(params, int) else ""
    lines.append(f"- **Model**: {_dict(config.get('model')).get('name', 'unknown')}{params}")
    if run.methods:
        described = []
        for method, summary in run.methods.items():
            cycles = _cycles(summary)
            reach = (f", {100 * cycles[0]['prune_ratio']:.0f}% to "
                     f"{100 * cycles[-1]['prune_ratio']:.0f}% of parameters removed"
                     if cycles else "")
            described.append(f"{method} ({len(cycles)} cycle{'s' * (len(cycles) != 1)}{reach})")
        lines.append(f"- **Methods**: {'; '.join(described)}")
    else:
        lines.append("- **Methods**: none evaluated yet (the run stopped before its first "
                     "pruned network)")
    distributions = context["distributions"]
    shifted = [d for d in distributions if d != NOMINAL]
    lines.append(f"- **Test distributions**: {len(distributions)}"
                 + (f" ({', '.join(distributions)})" if len(distributions) <= 20 else ""))
    unavailable = _dict(results.get("unavailable"))
    if unavailable:
        lines.append("- **Unavailable distributions**: " + "; ".join(
            f"{name} ({reason})" for name, reason in unavailable.items()))
    accuracy = _dict(parent.get("accuracy"))
    if accuracy:
        text = f"- **Parent accuracy**: nominal {_percent(accuracy.get(NOMINAL))}"
        if shifted:
            text += f", mean over corrupted {_percent(_mean(accuracy, shifted))}"
        lines.append(text)
    delta = _number(results.get("delta"))
    if not math.isnan(delta):
        lines.append(f"- **\u03b4** (prune potential tolerance): {delta:g} percentage points")
    tflite = _dict(parent.get("tflite"))
    if tflite:
        lines.append(f"- **TFLite**: parent exported ({tflite.get('delegate', 'delegate n/a')})")
    elif "tflite" in parent:
        lines.append("- **TFLite**: not exported in this run")
    return lines


def _potential_table(run, context):
    distributions = context["distributions"]
    columns = []
    for method, summary in run.methods.items():
        columns.append((f"{method} Keras", _dict(summary.get("prune_potential"))))
        for variant, potential in _variants(summary).items():
            columns.append((f"{method} {'TFLite' if variant == 'tflite' else variant}",
                            potential))
    if not columns or not distributions:
        return ["No prune potential yet: no pruned network has been evaluated."]
    lines = ["| distribution | " + " | ".join(_cell(c) for c, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for name in distributions:
        lines.append(f"| {_cell(name)} | " + " | ".join(_percent(p.get(name)) for _, p in columns)
                     + " |")
    for group, members in context["groups"].items():
        if len(members) < 2:
            continue
        for label, reduce in (("mean", np.mean), ("min", np.min)):
            cells = []
            for _, potential in columns:
                values = [_number(potential.get(d)) for d in members]
                values = [v for v in values if not math.isnan(v)]
                cells.append(_percent(reduce(values)) if values else "n/a")
            lines.append(f"| *{_cell(group)}: {label} of {len(members)}* | "
                         + " | ".join(cells) + " |")
    missing = [m for m, s in run.methods.items() if not _variants(s)]
    if missing:
        lines += ["", f"No TFLite prune potential for {', '.join(missing)} (export off, or "
                  "not every cycle exported yet)."]
    return lines


def _compare_table(runs, context):
    shifted = [d for d in context["distributions"] if d != NOMINAL]
    lines = ["| run | method | cycles | largest prune ratio | PP nominal | PP mean corrupted |",
             "|---|---|---:|---:|---:|---:|"]
    for run in runs:
        if run.results is None:
            lines.append(f"| {_cell(run.name)} | (no results: {_cell(run.problem)}) | | | | |")
            continue
        for method, summary in run.methods.items():
            cycles = _cycles(summary)
            potential = _dict(summary.get("prune_potential"))
            lines.append(
                f"| {_cell(run.name)} | {_cell(method)} | {len(cycles)} | "
                f"{_percent(cycles[-1]['prune_ratio']) if cycles else 'n/a'} | "
                f"{_percent(potential.get(NOMINAL))} | "
                f"{_percent(_mean(potential, shifted)) if shifted else 'n/a'} |")
    return lines


FIGURE_SECTIONS = (
    ("Accuracy vs prune ratio, by group", "accuracy_groups.png", _accuracy_groups),
    ("Accuracy vs prune ratio, per distribution", "accuracy_distributions.png",
     _accuracy_distributions),
    ("Prune potential heat map (Keras)", "prune_potential_keras.png",
     lambda runs, colours, context, path: _heatmap(runs[0], colours, context, path,
                                                   "prune_potential", "Keras")),
    ("Prune potential heat map (TFLite)", "prune_potential_tflite.png",
     lambda runs, colours, context, path: _heatmap(runs[0], colours, context, path,
                                                   "tflite_prune_potential", "TFLite")),
    ("Prune potential of the compared runs", "prune_potential_runs.png",
     lambda runs, colours, context, path: _prune_potential_runs(runs, colours, context, path)
     if len(runs) > 1 else (None, None)),
    ("Excess error vs prune ratio", "excess_error.png", _excess_error),
    ("Noise similarity", "noise_similarity.png", _noise_similarity),
    ("Calibration", "calibration.png", _calibration),
    ("Keras vs TFLite prune potential", "keras_vs_tflite.png", _keras_vs_tflite),
    ("Corruption samples", "corruption_samples.png", _corruption_samples),
)
NEEDS_METHODS = {"accuracy_groups.png", "accuracy_distributions.png",
                 "prune_potential_keras.png", "prune_potential_tflite.png",
                 "prune_potential_runs.png", "excess_error.png", "calibration.png",
                 "keras_vs_tflite.png"}


def _unique_names(workdirs):
    names = []
    for workdir in workdirs:
        path = os.path.abspath(workdir)
        name = os.path.basename(path.rstrip(os.sep)) or path
        if name in names:
            name = os.path.join(os.path.basename(os.path.dirname(path)), name)
        while name in names:
            name += "'"
        names.append(name)
    return names


def write_report(workdir, compare=()) -> str:
    """Write `workdir`/report.md and its figures (in `workdir`/report/); return the path of
    report.md. `compare` lists other run directories to overlay."""
    if not storage.isdir(workdir):
        raise FileNotFoundError(f"--workdir={workdir} is not a directory")
    workdirs, seen = [], set()
    for path in (workdir, *compare):
        key = os.path.realpath(path) if storage.is_local(path) else path
        if key not in seen:
            seen.add(key)
            workdirs.append(path)
    runs = [Run(path, name, RUN_STYLES[i % len(RUN_STYLES)])
            for i, (path, name) in enumerate(zip(workdirs, _unique_names(workdirs)))]
    main = runs[0]
    usable = [r for r in runs if r.results is not None]
    figure_dir = os.path.join(workdir, FIGURE_DIR)
    lines = [f"# tfprune report: {main.name}", ""]
    written = set()
    if main.results is None:
        lines += [f"No report yet: {main.problem}.", ""]
    else:
        context = dict(distributions=_distributions(main.results))
        context["groups"] = _groups(main.results, context["distributions"])
        context["methods"] = list(_colours(usable))
        colours = _colours(usable)
        source = os.path.join(workdir, "results.json")
        lines += [f"Built by `python -m tfprune.report` from `{source}`"
                  f" (schema version {main.results.get('schema_version', 'n/a')})"
                  + (f", compared with {len(runs) - 1} other run"
                     f"{'s' * (len(runs) > 2)}" if len(runs) > 1 else "") + ".", "",
                  "## Run", "", *_summary_lines(main, context), "",
                  "## Prune potential per distribution", "",
                  "The largest tested prune ratio (% of all parent parameters removed) whose "
                  "error is at most \u03b4 above the parent's on the same distribution.", "",
                  *_potential_table(main, context), ""]
        if len(runs) > 1:
            lines += ["## Compared runs", "",
                      "Line style (and marker) per run in the figures; the first run is this one.",
                      "", *_compare_table(runs, context), ""]
        lines += ["## Figures", ""]
        for title, file, draw in FIGURE_SECTIONS:
            if file in NEEDS_METHODS and not context["methods"]:
                caption, note = None, None
            else:
                try:
                    caption, note = draw(usable, colours, context, os.path.join(figure_dir, file))
                except Exception as error:  # a figure must never cost the whole report
                    caption, note = None, (f"{title}: figure failed "
                                           f"({type(error).__name__}: {error}).")
            if caption:
                written.add(file)
                lines += [f"### {title}", "", f"![{title}]({FIGURE_DIR}/{file})", "",
                          f"*{caption}*", ""]
            elif note:
                lines += [f"### {title}", "", note, ""]
        if not context["methods"]:
            lines += ["No pruned network has been evaluated yet, so there are no accuracy, "
                      "prune potential, excess error or calibration figures.", ""]
        for run in runs[1:]:
            if run.results is None:
                lines += [f"Compared run {run.name} left out: {run.problem}.", ""]
    for file in FIGURES:  # figures of an earlier report that this one did not draw
        if file not in written:
            storage.remove_file(os.path.join(figure_dir, file))
    path = os.path.join(workdir, "report.md")
    storage.write_bytes(path, ("\n".join(lines).rstrip() + "\n").encode())
    return path


# ---------------------------------------------------------------------------
# Command line.

def main(argv):
    """The absl entry point; the flags are defined only when run as a program, so that
    importing this module (as the pipeline does) adds none beside tfprune.run's."""
    from absl import app

    compare = list(_COMPARE.value or [])
    if len(argv) > 1 and not compare:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    compare += argv[1:]  # --compare A B: absl leaves B as an argument
    try:
        path = write_report(_WORKDIR.value, compare)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)
    print(path)


if __name__ == "__main__":
    from absl import app, flags

    _WORKDIR = flags.DEFINE_string("workdir", None, "Run directory holding results.json.")
    _COMPARE = flags.DEFINE_multi_string(
        "compare", [], "Other run directories to overlay (repeat the flag, or list them "
        "after it).")
    flags.mark_flag_as_required("workdir")
    app.run(main)
