"""Reading results.json: the file itself is refused in one line when it is missing or
unreadable (a report is never built from, or over, nothing); within it every reader is
tolerant, returning something drawable (an empty mapping, nan, None) for a missing or
malformed key, so that a partial run, a results.json of an earlier version or a
hand-edited one still gives a report."""
import json
import math

import numpy as np

from tfprune import errors, storage, verdicts
from tfprune import workdir as layout
from tfprune.results import NOMINAL

_REBUILD = "rerun the run's python -m tfprune.run command to rebuild it (finished stages are kept)"


class Run:
    """One run directory: its name in legends, its line style, its results and the SHA-256
    of the results.json bytes they were read from (the report records it). `flag` names
    where the directory came from in errors (--workdir, --compare)."""

    def __init__(self, folder, name, style, flag="--workdir"):
        self.workdir = folder
        self.name = name
        self.style = style
        self.results, self.digest = _load_results(folder, flag)

    @property
    def methods(self):
        """{method: summary} of the methods whose summary is a mapping."""
        methods = self.results.get("methods")
        if not isinstance(methods, dict):
            return {}
        return {m: s for m, s in methods.items() if isinstance(s, dict)}


def _load_results(folder, flag):
    """(results, SHA-256 of the file), or a WorkdirError naming the folder or file."""
    if not storage.isdir(folder):
        problem = "is a file, not a folder" if storage.exists(folder) else "does not exist"
        raise errors.WorkdirError(f"{flag}={folder} {problem}; pass the --workdir of a "
                                  "python -m tfprune.run run")
    path = layout.results(folder)
    if not storage.exists(path):
        raise errors.WorkdirError(
            f"{flag}={folder} has no results.json (not a run directory, or its run has not "
            "finished its first evaluation); finish that run first, or pass another folder")
    try:
        payload = storage.read_bytes(path)
        results = json.loads(payload)
    except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        cause = getattr(error, "strerror", None) or (
            str(error).strip().splitlines() or [type(error).__name__])[0]
        raise errors.WorkdirError(f"{path} is unreadable ({cause}); {_REBUILD}") from error
    if not isinstance(results, dict):
        raise errors.WorkdirError(f"{path} does not hold a JSON object; {_REBUILD}")
    return results, storage.bytes_digest(payload)


def as_dict(value):
    """`value` when it is a mapping, else an empty one, so that lookups can be chained."""
    return value if isinstance(value, dict) else {}


def number(value):
    """A finite float, or nan for anything else (missing, None, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value) if math.isfinite(value) else math.nan


def mean(mapping, names):
    """The mean of the numbers `mapping` holds for `names`; nan when it holds none."""
    values = [number(as_dict(mapping).get(n)) for n in names]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def config(results):
    return as_dict(as_dict(results).get("config"))


def cycles(summary):
    """A method's cycles that have a prune ratio, in order of prune ratio."""
    found = [c for c in as_dict(summary).get("cycles") or [] if isinstance(c, dict)
             and not math.isnan(number(c.get("prune_ratio")))]
    return sorted(found, key=lambda c: c["prune_ratio"])


def censored(summary, potential):
    """{dist: whether `potential` there is the method's largest tested prune ratio}: a
    lower bound, shown as ">= r" (tfprune.verdicts.censored, for any potential)."""
    return verdicts.censored({d: number(p) for d, p in as_dict(potential).items()},
                             [c["prune_ratio"] for c in cycles(summary)])


def distributions(results):
    """Nominal first, then the config's corruption x severity order, then any others."""
    results = as_dict(results)
    names = set(as_dict(results.get("distributions")))
    names |= set(as_dict(as_dict(results.get("parent")).get("accuracy")))
    for summary in as_dict(results.get("methods")).values():
        for cycle in cycles(summary):
            names |= set(as_dict(cycle.get("accuracy")))
    evaluation = as_dict(config(results).get("eval"))
    ordered = [f"{c}_{s}" for c in evaluation.get("corruptions") or []
               for s in evaluation.get("severities") or []]
    head = [NOMINAL] if NOMINAL in names else []
    return head + [n for n in ordered if n in names] + sorted(
        names - set(ordered) - {NOMINAL})


def groups(results, names):
    """{group: [distributions]}: results["groups"] when present, else nominal/corrupted."""
    declared = as_dict(as_dict(results).get("groups"))
    chosen = {str(g): [d for d in members if d in names]
              for g, members in declared.items() if isinstance(members, (list, tuple))}
    chosen = {g: m for g, m in chosen.items() if m}
    if chosen:
        if NOMINAL in names and not any(NOMINAL in m for m in chosen.values()):
            chosen = {NOMINAL: [NOMINAL], **chosen}  # the yardstick of every other group
        return chosen
    default = {NOMINAL: [d for d in names if d == NOMINAL],
               "corrupted": [d for d in names if d != NOMINAL]}
    return {g: m for g, m in default.items() if m}


def export_potential(summary, variant):
    """{dist: prune potential} of a method's exported files of `variant`, or None."""
    entry = as_dict(as_dict(as_dict(summary).get("export")).get(variant))
    potential = entry.get("prune_potential")
    return potential if isinstance(potential, dict) else None


def variants(summary):
    """{variant: {dist: prune potential}} of the variants a method's networks were
    exported as (its `export` mapping), those with at least one number."""
    found = {}
    for variant in as_dict(as_dict(summary).get("export")):
        potential = export_potential(summary, variant)
        if potential and any(not math.isnan(number(x)) for x in potential.values()):
            found[str(variant)] = potential
    return found


def noise(entry):
    """A tolerant reading of entry["noise"] = {eps, agreement, prune_potential}:
    agreement ([[per eps] per cycle], or [per eps] for the reference network) becomes an
    (eps, k) array."""
    measured = as_dict(as_dict(entry).get("noise"))
    if not isinstance(measured.get("eps"), (list, tuple)):
        return None
    try:
        eps = np.asarray(measured["eps"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    if eps.size == 0 or not np.isfinite(eps).all():
        return None
    agreement = potential = None
    try:
        agreement = np.asarray(measured.get("agreement"), dtype=np.float64)
        if agreement.ndim == 1 and agreement.shape[0] == eps.size:
            agreement = agreement[:, None]
        elif agreement.ndim == 2 and agreement.shape[1] == eps.size:
            agreement = agreement.T  # the schema's [[per eps] per cycle]
        elif agreement.ndim != 2 or agreement.shape[0] != eps.size:
            agreement = None
    except (TypeError, ValueError):
        agreement = None
    try:
        potential = np.asarray(measured.get("prune_potential"), dtype=np.float64).reshape(-1)
        potential = potential if potential.shape == eps.shape else None
    except (TypeError, ValueError):
        potential = None
    if agreement is None and potential is None:
        return None
    return dict(eps=eps, agreement=agreement, prune_potential=potential)
