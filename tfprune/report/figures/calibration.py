"""Expected calibration error against prune ratio, by group: whether pruning makes a
network over- or under-confident."""
import math

from tfprune.report import plot, reader


def draw(runs, colours, context, path):
    has_ece = any(isinstance(c.get("ece"), dict) for run in runs for s in run.methods.values()
                  for c in reader.cycles(s))
    if not has_ece:
        return None, ("Calibration (ECE): not measured in this run (no `ece` entries in its "
                      "cycles).")
    groups = context["groups"]
    figure = plot.new_figure(min(5.2 * len(groups), 16), 4.6)
    axes = plot.panels(figure, len(groups), min(len(groups), 3))
    spread = has_parent = reference = False
    for ax, (group, members) in zip(axes, groups.items()):
        parent = lambda run, m=members: reader.mean(  # noqa: E731
            reader.as_dict(reader.as_dict(run.results.get("parent")).get("ece")), m)
        has_parent |= any(not math.isnan(parent(run)) for run in runs)
        plot.parent_band(ax, runs, parent, None)
        reference |= plot.reference_line(ax, runs[0],
                                         lambda r, m=members: reader.mean(r.get("ece"), m))
        spread |= plot.curves(ax, runs, colours,
                              lambda run, cycle, m=members: reader.mean(cycle.get("ece"), m))
        plot.finish_axes(ax, plot.group_title(group, members),
                         ylabel="expected calibration error (%)")
        ax.set_ylim(bottom=0)
    figure.suptitle("Calibration (ECE, lower is better) vs prune ratio")
    plot.legend(figure, plot.legend_handles(runs, colours, context["methods"], parent=has_parent,
                                            spread=spread) + [plot.REFERENCE_HANDLE] * reference)
    plot.save(figure, path)
    return ("Expected calibration error of each pruned network (the gap between confidence "
            "and accuracy; lower is better), grey line = parent. Rising curves mean pruning "
            "makes the network over- or under-confident."), None


FIGURE = plot.Figure("Calibration", "calibration.png", draw, needs_methods=True)
