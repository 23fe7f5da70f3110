"""What the report's figures share: the Figure registration, a canvas (matplotlib Agg,
no display), saving through tfprune.storage, the method colours and run line styles,
and the panels, curves, bands, legends and labels every figure draws the same way."""
import dataclasses
import io
import itertools
import math
import re
from typing import Callable

import numpy as np
from matplotlib import colors as mcolors
from matplotlib import figure as mfigure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tfprune import storage
from tfprune.report import reader
from tfprune.results import NOMINAL

DPI = 110
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
RUN_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v"),
              ((0, (1, 3)), "P"))
PARENT_COLOUR = "0.45"
X_LABEL = "prune ratio (% of parameters removed)"
PP_LABEL = "prune potential (% of parameters removed)"
REFERENCE_HANDLE = Line2D([], [], color="black", linestyle=(0, (2, 2)), lw=1.2,
                          label="separately trained network")


@dataclasses.dataclass(frozen=True)
class Figure:
    """One figure of the report: its section title, its file in the figure folder, and
    draw(runs, colours, context, path) -> (caption, note), which writes `path` and
    returns a caption, or returns a note (or nothing) instead. A figure that
    `needs_methods` is not drawn for a run without pruned networks."""
    title: str
    file: str
    draw: Callable
    needs_methods: bool


def new_figure(width, height):
    figure = mfigure.Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure, path):
    """Write the PNG to `path`, the figure's staged file (tfprune.report.staging), in one
    atomic write; a full disk is a WorkdirError that fails the report."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    storage.write_bytes(path, buffer.getvalue())


def colours(runs):
    """{method: colour} in order of first appearance: the colour results.json declares
    for a method (`methods.<m>.colour`, the first run that has one), else the next
    palette colour no declared one took; the same method keeps its colour across runs."""
    order, declared = [], {}
    for run in runs:
        for method, summary in run.methods.items():
            if method not in order:
                order.append(method)
            colour = summary.get("colour")
            if method not in declared and isinstance(colour, str) and \
                    mcolors.is_color_like(colour):
                declared[method] = colour
    taken = {mcolors.to_hex(c) for c in declared.values()}
    free = itertools.cycle([c for c in PALETTE if c not in taken] or PALETTE)
    return {m: declared[m] if m in declared else next(free) for m in order}


def panels(figure, count, columns):
    rows = math.ceil(count / columns)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return axes[:count]


def _grid_shape(count):
    columns = 1 if count == 1 else 2 if count <= 4 else 3 if count <= 9 else 4 if count <= 16 \
        else 6 if count <= 36 else 8
    return columns, math.ceil(count / columns)


def run_handles(runs):
    """The legend entries of the runs' line styles; none for a single run."""
    if len(runs) < 2:
        return []
    return [Line2D([], [], color="black", linestyle=r.style[0], marker=r.style[1], lw=1,
                   markersize=4, label=f"run {r.name}") for r in runs]


def legend_handles(runs, colours, methods, parent=True, delta=None, spread=False):
    handles = [Line2D([], [], color=colours[m], lw=2, label=m) for m in methods]
    handles += run_handles(runs)
    if spread:
        handles.append(Patch(color="0.6", alpha=0.4,
                             label="mean over runs (thick) \u00b1 std band"))
    if parent and (delta is None or math.isnan(delta)):
        handles.append(Line2D([], [], color=PARENT_COLOUR, lw=1.2, label="parent"))
    elif parent:
        handles.append(Patch(facecolor=PARENT_COLOUR, alpha=0.35, edgecolor=PARENT_COLOUR,
                             label=f"parent (band: within \u03b4 = {delta:g} points below it)"))
    return handles


def legend(figure, handles):
    if handles:
        figure.legend(handles=handles, loc="outside lower center",
                      ncols=min(len(handles), 4), fontsize=9, frameon=False)


def curves(ax, runs, colours, value):
    """One line per (run, method) of value(run, cycle) in %, against prune ratio in %;
    the mean and a +-std band over runs where several share a method (seeds: mean +- std,
    as the study reports them). Returns whether a spread was drawn."""
    many = len(runs) > 1
    series = {}
    for run in runs:
        for method, summary in run.methods.items():
            cycles = reader.cycles(summary)
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
            mean, std = np.nanmean(ys, axis=0), np.nanstd(ys, axis=0)
            ax.fill_between(x, mean - std, mean + std, color=colours[method], alpha=0.18, lw=0)
            ax.plot(x, mean, color=colours[method], lw=2.8, alpha=0.9)
        spread = True
    ax.set_xlim(0, 100)  # the whole range: a run with few cycles still reads as one
    return spread


def parent_band(ax, runs, value, delta):
    """The parent's value (%) of each run as a line, with the delta band below it."""
    for run in runs:
        level = 100 * value(run)
        if math.isnan(level):
            continue
        if delta:
            ax.axhspan(level - delta, level, color=PARENT_COLOUR, alpha=0.3, lw=0)
        ax.axhline(level, color=PARENT_COLOUR, linestyle=run.style[0], lw=1.2)


def reference_line(ax, run, value):
    """The separately trained network's value (%), when the run has one; whether drawn."""
    level = 100 * value(reader.as_dict(run.results.get("reference")))
    if math.isnan(level):
        return False
    ax.axhline(level, color="black", linestyle=(0, (2, 2)), lw=1.2)
    return True


def small_multiples(names, panel=(3.4, 2.7)):
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
    figure = new_figure(max(panel[0] * columns, 6), panel[1] * rows + 1.0)
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


def finish_axes(ax, title, xlabel=X_LABEL, ylabel="accuracy (%)"):
    ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)


def group_title(group, members):
    if members == [group]:
        return label(group)
    if len(members) == 1:
        return f"{label(group)} ({label(members[0])})"
    return f"{label(group)} (mean of {len(members)} distributions)"


def label(name):
    return name.replace("_", " ")


def variant_label(variant):
    """An exported variant as tables and legends name it: the float32 file is the TFLite
    network of schema 1, the others go by their variant."""
    return "TFLite" if variant == "float32" else variant
