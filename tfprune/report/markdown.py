"""report.md: the run's summary, its prune potential table, the compared runs' table and
a section per registered figure, assembled by write_report."""
import math
import os

import numpy as np

from tfprune import storage
from tfprune import workdir as layout  # write_report's argument is called workdir
from tfprune.report import figures, plot, reader
from tfprune.results import NOMINAL


def _percent(value, digits=1):
    value = reader.number(value)
    return "n/a" if math.isnan(value) else f"{100 * value:.{digits}f}%"


def _cell(text):
    return str(text).replace("|", "\\|")


def summary_lines(run, context):
    """The bullet list of what the run measured: data, model, methods, distributions."""
    results = run.results
    config = reader.config(results)
    dataset = reader.as_dict(results.get("dataset"))
    parent = reader.as_dict(results.get("parent"))
    lines = []
    name = dataset.get("name") or reader.as_dict(config.get("data")).get("name") or "unknown"
    sizes = ", ".join(f"{k} {dataset[f'num_{k}']:,}" for k in ("train", "val", "test")
                      if isinstance(dataset.get(f"num_{k}"), int))
    source = f" ({dataset['source']})" if dataset.get("source") else ""
    lines.append(f"- **Data set**: {name}{source}" + (f"; {sizes}" if sizes else ""))
    params = parent.get("params")
    params = f", {params:,} parameters" if isinstance(params, int) else ""
    lines.append(f"- **Model**: {reader.as_dict(config.get('model')).get('name', 'unknown')}"
                 f"{params}")
    if run.methods:
        described = []
        for method, summary in run.methods.items():
            cycles = reader.cycles(summary)
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
    unavailable = reader.as_dict(results.get("unavailable"))
    if unavailable:
        lines.append("- **Unavailable distributions**: " + "; ".join(
            f"{name} ({reason})" for name, reason in unavailable.items()))
    accuracy = reader.as_dict(parent.get("accuracy"))
    if accuracy:
        text = f"- **Parent accuracy**: nominal {_percent(accuracy.get(NOMINAL))}"
        if shifted:
            text += f", mean over corrupted {_percent(reader.mean(accuracy, shifted))}"
        lines.append(text)
    delta = reader.number(results.get("delta"))
    if not math.isnan(delta):
        lines.append(f"- **\u03b4** (prune potential tolerance): {delta:g} percentage points")
    exported = reader.as_dict(parent.get("export"))
    if exported:
        delegate = reader.as_dict(exported.get("float32")).get("delegate", "delegate n/a")
        lines.append(f"- **TFLite**: parent exported ({delegate})")
    else:
        lines.append("- **TFLite**: not exported in this run")
    return lines


def potential_table(run, context):
    """Prune potential per distribution (rows) of each method's Keras networks and
    exported variants (columns), with each group's mean and minimum."""
    distributions = context["distributions"]
    columns = []
    for method, summary in run.methods.items():
        columns.append((f"{method} Keras", reader.as_dict(summary.get("prune_potential"))))
        for variant, potential in reader.variants(summary).items():
            columns.append((f"{method} {plot.variant_label(variant)}", potential))
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
                values = [reader.number(potential.get(d)) for d in members]
                values = [v for v in values if not math.isnan(v)]
                cells.append(_percent(reduce(values)) if values else "n/a")
            lines.append(f"| *{_cell(group)}: {label} of {len(members)}* | "
                         + " | ".join(cells) + " |")
    missing = [m for m, s in run.methods.items() if not reader.variants(s)]
    if missing:
        lines += ["", f"No TFLite prune potential for {', '.join(missing)} (export off, or "
                  "not every cycle exported yet)."]
    return lines


def compare_table(runs, context):
    """One row per (run, method): its cycles, reach and Keras prune potential."""
    shifted = [d for d in context["distributions"] if d != NOMINAL]
    lines = ["| run | method | cycles | largest prune ratio | PP nominal | PP mean corrupted |",
             "|---|---|---:|---:|---:|---:|"]
    for run in runs:
        if run.results is None:
            lines.append(f"| {_cell(run.name)} | (no results: {_cell(run.problem)}) | | | | |")
            continue
        for method, summary in run.methods.items():
            cycles = reader.cycles(summary)
            potential = reader.as_dict(summary.get("prune_potential"))
            lines.append(
                f"| {_cell(run.name)} | {_cell(method)} | {len(cycles)} | "
                f"{_percent(cycles[-1]['prune_ratio']) if cycles else 'n/a'} | "
                f"{_percent(potential.get(NOMINAL))} | "
                f"{_percent(reader.mean(potential, shifted)) if shifted else 'n/a'} |")
    return lines


def _figure_sections(workdir, runs, colours, context):
    """A section per registered figure that drew or left a note; returns (lines, the
    files drawn)."""
    lines, written = [], set()
    for figure in figures.REGISTRY:
        if figure.needs_methods and not context["methods"]:
            continue
        try:
            caption, note = figure.draw(runs, colours, context,
                                        layout.figure(workdir, figure.file))
        except Exception as error:  # a figure must never cost the whole report
            caption, note = None, (f"{figure.title}: figure failed "
                                   f"({type(error).__name__}: {error}).")
        if caption:
            written.add(figure.file)
            lines += [f"### {figure.title}", "",
                      f"![{figure.title}]({layout.FIGURE_DIR}/{figure.file})", "",
                      f"*{caption}*", ""]
        elif note:
            lines += [f"### {figure.title}", "", note, ""]
    return lines, written


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


def _runs(workdir, compare):
    """The runs to report, this one first, each directory once."""
    workdirs, seen = [], set()
    for path in (workdir, *compare):
        key = os.path.realpath(path) if storage.is_local(path) else path
        if key not in seen:
            seen.add(key)
            workdirs.append(path)
    return [reader.Run(path, name, plot.RUN_STYLES[i % len(plot.RUN_STYLES)])
            for i, (path, name) in enumerate(zip(workdirs, _unique_names(workdirs)))]


def _body(workdir, runs):
    """Everything below the title of a run that has results; returns (lines, the figure
    files drawn)."""
    main = runs[0]
    usable = [r for r in runs if r.results is not None]
    colours = plot.colours(usable)
    context = dict(distributions=reader.distributions(main.results), methods=list(colours))
    context["groups"] = reader.groups(main.results, context["distributions"])
    lines = [f"Built by `python -m tfprune.report` from `{layout.results(workdir)}`"
             f" (schema version {main.results.get('schema_version', 'n/a')})"
             + (f", compared with {len(runs) - 1} other run"
                f"{'s' * (len(runs) > 2)}" if len(runs) > 1 else "") + ".", "",
             "## Run", "", *summary_lines(main, context), "",
             "## Prune potential per distribution", "",
             "The largest tested prune ratio (% of all parent parameters removed) whose "
             "error is at most \u03b4 above the parent's on the same distribution.", "",
             *potential_table(main, context), ""]
    if len(runs) > 1:
        lines += ["## Compared runs", "",
                  "Line style (and marker) per run in the figures; the first run is this one.",
                  "", *compare_table(runs, context), ""]
    sections, written = _figure_sections(workdir, usable, colours, context)
    lines += ["## Figures", "", *sections]
    if not context["methods"]:
        lines += ["No pruned network has been evaluated yet, so there are no accuracy, "
                  "prune potential, excess error or calibration figures.", ""]
    for run in runs[1:]:
        if run.results is None:
            lines += [f"Compared run {run.name} left out: {run.problem}.", ""]
    return lines, written


def write_report(workdir, compare=()) -> str:
    """Write `workdir`/report.md and its figures (in `workdir`/report/); return the path of
    report.md. `compare` lists other run directories to overlay."""
    if not storage.isdir(workdir):
        raise FileNotFoundError(f"--workdir={workdir} is not a directory")
    runs = _runs(workdir, compare)
    lines = [f"# tfprune report: {runs[0].name}", ""]
    written = set()
    if runs[0].results is None:
        lines += [f"No report yet: {runs[0].problem}.", ""]
    else:
        body, written = _body(workdir, runs)
        lines += body
    for figure in figures.REGISTRY:  # figures of an earlier report that this one did not draw
        if figure.file not in written:
            storage.remove_file(layout.figure(workdir, figure.file))
    path = layout.report(workdir)
    storage.write_bytes(path, ("\n".join(lines).rstrip() + "\n").encode())
    return path
