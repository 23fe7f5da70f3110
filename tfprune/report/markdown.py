"""report.md: the run's summary, its prune potential table, the compared runs' table and
a section per registered figure, assembled by write_report, which publishes the report
only once all of its files are written, and records what it was built from."""
import json
import math
import os

import numpy as np

from tfprune import errors, storage
from tfprune import workdir as layout  # write_report's argument is called workdir
from tfprune.report import figures, plot, reader, staging
from tfprune.results import NOMINAL

SOURCES_MARK = "<!-- tfprune.report sources:"


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
    columns, censored = [], {}
    for method, summary in run.methods.items():
        columns.append((f"{method} Keras", reader.as_dict(summary.get("prune_potential"))))
        censored[len(columns) - 1] = reader.as_dict(summary.get("censored"))
        if "prune_potential_vs_control" in summary:
            columns.append((f"{method} vs control",
                            reader.as_dict(summary["prune_potential_vs_control"])))
        for variant, potential in reader.variants(summary).items():
            columns.append((f"{method} {plot.variant_label(variant)}", potential))
    if not columns or not distributions:
        return ["No prune potential yet: no pruned network has been evaluated."]
    lines = ["| distribution | " + " | ".join(_cell(c) for c, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    flagged = reader.as_dict(run.results.get("control")).get("not_converged") or []
    at_chance = reader.as_dict(run.results.get("parent")).get("at_chance") or []
    for name in distributions:
        cells = ["\u2265 " * bool(censored.get(i, {}).get(name)) + _percent(p.get(name))
                 for i, (_, p) in enumerate(columns)]
        marks = " *" * (name in flagged) + " \u2020" * (name in at_chance)
        lines.append(f"| {_cell(name)}{marks} | " + " | ".join(cells) + " |")
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
    if any(any(c.values()) for c in censored.values()):
        lines += ["", "\u2265: the largest tested ratio still passes; the potential may be "
                  "larger."]
    if at_chance:
        lines += ["", "\u2020 the parent is at chance level there: its prune potential means "
                  "nothing."]
    if flagged:
        gains = reader.as_dict(run.results["control"].get("gain_over_parent"))
        lines += ["", "\\* parent not converged: retraining it without pruning (the control "
                  "network) gains " + ", ".join(f"{reader.number(gains.get(d)):.1f} points on "
                                                f"{d}" for d in flagged)
                  + "; prune potentials there are inflated (compare the vs-control column)."]
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
        for method, summary in run.methods.items():
            cycles = reader.cycles(summary)
            potential = reader.as_dict(summary.get("prune_potential"))
            lines.append(
                f"| {_cell(run.name)} | {_cell(method)} | {len(cycles)} | "
                f"{_percent(cycles[-1]['prune_ratio']) if cycles else 'n/a'} | "
                f"{_percent(potential.get(NOMINAL))} | "
                f"{_percent(reader.mean(potential, shifted)) if shifted else 'n/a'} |")
    return lines


def _figure_sections(runs, colours, context, path):
    """A section per registered figure that drew (to `path(file)`) or left a note;
    returns (lines, the files drawn). A figure that cannot be written fails the report."""
    lines, written = [], []
    for figure in figures.REGISTRY:
        if figure.needs_methods and not context["methods"]:
            continue
        try:
            caption, note = figure.draw(runs, colours, context, path(figure.file))
        except errors.UserError:
            raise
        except Exception as error:  # a figure that cannot be drawn costs only its section
            caption, note = None, (f"{figure.title}: figure failed "
                                   f"({type(error).__name__}: {error}).")
        if caption:
            written.append(figure.file)
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
    """The runs to report, this one first, each directory once; a WorkdirError when one
    of them has no readable results.json."""
    workdirs, seen = [], set()
    for path in (workdir, *compare):
        key = os.path.realpath(path) if storage.is_local(path) else path
        if key not in seen:
            seen.add(key)
            workdirs.append(path)
    return [reader.Run(path, name, plot.RUN_STYLES[i % len(plot.RUN_STYLES)],
                       "--workdir" if i == 0 else "--compare")
            for i, (path, name) in enumerate(zip(workdirs, _unique_names(workdirs)))]


def _body(workdir, runs, path):
    """Everything below the title; returns (lines, the figure files drawn, each to
    `path(file)`)."""
    main = runs[0]
    colours = plot.colours(runs)
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
    sections, written = _figure_sections(runs, colours, context, path)
    lines += ["## Figures", "", *sections]
    if not context["methods"]:
        lines += ["No pruned network has been evaluated yet, so there are no accuracy, "
                  "prune potential, excess error or calibration figures.", ""]
    return lines, written


def _sources_line(runs, figure_digests):
    """The record of what a report was built from, an HTML comment (invisible when the
    Markdown is rendered): the SHA-256 of each run's results.json and of each figure.
    A report whose record names another results.json digest than the file's is stale."""
    record = dict(results={layout.results(r.workdir): r.digest for r in runs},
                  figures=figure_digests)
    encoded = json.dumps(record, sort_keys=True).replace(">", "\\u003e")  # no "-->" inside
    return f"{SOURCES_MARK} {encoded} -->"


def write_report(workdir, compare=()) -> str:
    """Write `workdir`/report.md and its figures (in `workdir`/report/); return the path of
    report.md. `compare` lists other run directories to overlay.

    Nothing is written when a run's results.json is missing or unreadable. The figures
    and report.md are staged first and published together, report.md last; figures of an
    earlier report that this one did not draw are removed only then."""
    runs = _runs(workdir, compare)
    report_path = layout.report(workdir)
    with staging.Staging(workdir) as stage:
        try:
            body, written = _body(workdir, runs,
                                  lambda file: stage.path(layout.figure(workdir, file)))
            finals = [layout.figure(workdir, file) for file in written]
            digests = {file: stage.digest(final) for file, final in zip(written, finals)}
            lines = [f"# tfprune report: {runs[0].name}", "", *body]
            text = "\n".join(lines).rstrip() + "\n" + _sources_line(runs, digests) + "\n"
            storage.write_bytes(stage.path(report_path), text.encode())
        except errors.WorkdirError as error:
            raise errors.WorkdirError(f"report not updated, {report_path} and its figures "
                                      f"are kept as they were: {error}") from error
        stage.publish([*finals, report_path])
    for figure in figures.REGISTRY:  # figures of an earlier report that this one did not draw
        if figure.file not in written:
            storage.remove_file(layout.figure(workdir, figure.file))
    return report_path
