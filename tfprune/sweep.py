"""Sweeps: every seed (network repetition) times every method of one config, split
into shards that n machines run on one workdir or bucket, and the merge that builds
results.json and the report from their parts.

Layout. With one seed the workdir is that seed's ordinary workdir, and a run without
--shard is a plain `tfprune.pipeline.run`, as before sweeps existed. With several,
WORKDIR/seed-<s>/ is seed s's ordinary workdir (its config has `seed` = s and no
`seeds`, so resume, export and report work there unchanged), WORKDIR/config.json holds
the sweep's config and WORKDIR/results.json the merged result.

Units are the (seed, method) pairs, seeds outer, in the config's order. Shard i of n
takes the i-th of n contiguous runs of near-equal length, so that a seed's units stay
together and as few shards as possible train its parent. A unit is
`pipeline.run(..., only_method=method)` in its seed's workdir; it writes
results-<method>.json there. Units of one seed in different shards reuse the parent
when its checkpoint exists, else each trains it: the same seed gives the same weights
on the CPU, and checkpoints are written atomically, so the duplicate is harmless.
WORKDIR/shards/shard-<i>-of-<n>.json records the units each shard took.

Merged results.json (several seeds; schema version 2 of tfprune.results):
  sweep: {seeds, methods, workdirs: {seed: folder relative to WORKDIR}}, config, delta,
  seeds: {seed: that seed's results.json, also written to its folder},
  across_seeds: {parent: {accuracy: {dist: stats}},
    methods: {method: {prune_potential: {dist: stats}, export: {variant (every seed has):
      {prune_potential: {dist: stats}}}, group_prune_potential: {group: {mean, min: stats}},
      excess_error_slope: stats (when every seed has it)}}}
  stats = {mean, std, values (in seed order)}; std is the population standard deviation
  (numpy's default, ddof=0). A seed's merged results.json is its units' results with
  all methods, as an unsharded run writes it; wall_seconds_this_invocation is the sum
  over its units.
"""
import copy
import json
import os
import re
import socket
import time

import numpy as np

from tfprune import config as config_lib
from tfprune import errors, pipeline, report, storage, tables, verdicts, workdir
from tfprune import results as results_lib


def seeds_of(config):
    return list(config.seeds) or [config.seed]


def units(config):
    """The sweep's (seed, method) pairs in their fixed order."""
    return [(seed, method) for seed in seeds_of(config)
            for method in config_lib.methods_of(config.prune)]


def parse_shard(text):
    """'i/n' -> (i, n); a ConfigError naming the form otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise errors.ConfigError(f"--shard={text}: cannot read it; write --shard=i/n with "
                                 "whole numbers 1 <= i <= n, e.g. --shard=1/2")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise errors.ConfigError(f"--shard={text}: need 1 <= i <= n (shards are numbered "
                                 f"from 1), e.g. --shard=1/{max(count, 2)}")
    return index, count


def shard_units(all_units, index, count):
    """Shard `index` of `count`: the index-th of `count` contiguous runs of near-equal length."""
    return config_lib.array_split(all_units, count)[index - 1]


def seed_workdir(config, run_dir, seed):
    return run_dir if len(seeds_of(config)) == 1 else workdir.seed_dir(run_dir, seed)


def seed_config(config, seed):
    """The ordinary one-seed config of repetition `seed`."""
    single = copy.deepcopy(config)
    single.seed, single.seeds = seed, ()
    return single


def run(config, run_dir, shard=None, log=print):
    """Run (or continue) the sweep of `config` in `run_dir`: all of it, then the merge; or,
    with `shard` = (i, n), the i-th of n parts, leaving the merge to `merge`."""
    config_lib.validate(config)
    seeds = seeds_of(config)
    if shard is None and len(seeds) == 1:
        return pipeline.run(seed_config(config, seeds[0]), run_dir, log)
    if config.train.strategy == "multi_worker":  # every worker would write shared records
        raise errors.ConfigError(
            "train.strategy=multi_worker trains one run with all its workers; start each "
            "seed as its own multi-worker run (one seed in `seed`, no --shard)")
    index, count = shard or (1, 1)
    all_units = units(config)
    mine = shard_units(all_units, index, count)
    if not mine:
        log(f"shard {index}/{count}: no units (the sweep has {len(all_units)}); nothing to do")
        return None
    if len(seeds) > 1:
        workdir.prepare(config, run_dir, config_lib.base())
    else:  # the seed's own run records its config; refuse another run's workdir first
        workdir.check(seed_config(config, seeds[0]), run_dir, config_lib.base())
    storage.write_json(workdir.shard_record(run_dir, index, count), dict(
        shard=f"{index}/{count}", units=[list(unit) for unit in mine],
        host=socket.gethostname(), pid=os.getpid(), started=time.time()))
    for number, (seed, method) in enumerate(mine, start=1):
        log(f"\nsweep: shard {index}/{count}, unit {number}/{len(mine)}: seed {seed}, "
            f"method {method}")
        pipeline.run(seed_config(config, seed), seed_workdir(config, run_dir, seed), log,
                     only_method=method)
    if shard is None:
        return merge(config, run_dir, log)
    log(f"\nshard {index}/{count} finished its {len(mine)} of {len(all_units)} units; once "
        "every shard has, run the same command with --merge instead of --shard")
    return None


def _unfinished(config, run_dir, missing):
    """The one-line refusal: which units lack results, and the shards of the latest
    split (n of the last shard started) that hold them."""
    folder, started = workdir.shards_dir(run_dir), []
    for name in storage.listdir(folder):
        try:
            record = storage.read_json(os.path.join(folder, name))
            started.append((record["started"], parse_shard(record["shard"])[1]))
        except (OSError, ValueError, KeyError, TypeError):  # ConfigError is a ValueError
            continue  # a record is a hint only
    all_units = units(config)
    names = ", ".join(f"seed {s} {m}" for s, m in missing)
    if not started:
        rerun = "the shards (--shard=i/n) or the command without --shard"
    else:
        count = max(started)[1]
        rerun = " and ".join(f"--shard={i}/{count}" for i in range(1, count + 1)
                             if set(shard_units(all_units, i, count)) & set(missing))
    return (f"cannot merge: {len(missing)} of {len(all_units)} units are unfinished ({names}); "
            f"run {rerun}, then --merge again")


def _unit_results(path):
    try:
        return storage.read_json(path)
    except (OSError, ValueError) as error:
        raise errors.ConfigError(f"{path} is unreadable ({error}); delete it and rerun "
                                 "the shard that holds its unit") from error


def _merge_seed(config, run_dir, seed):
    """Seed `seed`'s results.json from its units' results-<method>.json."""
    folder = seed_workdir(config, run_dir, seed)
    methods = config_lib.methods_of(config.prune)
    parts = {m: _unit_results(workdir.results(folder, m)) for m in methods}
    first = parts[methods[0]]
    for method, part in parts.items():
        if part["parent"]["accuracy"] != first["parent"]["accuracy"]:
            raise errors.ConfigError(
                f"{folder}: units {methods[0]} and {method} evaluated different parents "
                "(shards that trained one seed's parent at once on a nondeterministic device); "
                "delete the folder's checkpoints/parent.* and results-*.json, and rerun its "
                "units from one shard")
    merged = dict(first, methods={m: parts[m]["methods"][m] for m in methods})
    merged["export"] = results_lib.export_overview(merged)
    merged["wall_seconds_this_invocation"] = sum(
        p.get("wall_seconds_this_invocation", 0.0) for p in parts.values())
    return merged


def _stats(values):
    return dict(mean=float(np.mean(values)), std=float(np.std(values)),
                values=[float(v) for v in values])


def _over_seeds(mappings):
    """{key: stats} over the seeds' {key: value} mappings, for the keys all of them hold."""
    return {key: _stats([m[key] for m in mappings]) for key in mappings[0]
            if all(key in m for m in mappings)}


def _paired_by_cycle(runs, method, delta):
    """Per cycle index that every seed reached: its target ratio and, per distribution, the
    pruned network against its own seed's parent over the seeds (verdicts.paired_comparison)."""
    cycles = [r["methods"][method]["cycles"] for r in runs]
    parents = [r["parent"]["accuracy"] for r in runs]
    return [dict(target_ratio=by_seed[0]["target_ratio"], by_distribution=(
        verdicts.paired_comparison([c["accuracy"] for c in by_seed], parents, delta)))
            for by_seed in zip(*cycles)]


def _across_seeds(runs, methods, delta):
    across = dict(parent=dict(accuracy=_over_seeds([r["parent"]["accuracy"] for r in runs])),
                  methods={})
    for method in methods:
        summaries = [r["methods"][method] for r in runs]
        entry = dict(prune_potential=_over_seeds([s["prune_potential"] for s in summaries]),
                     seed_support=verdicts.seed_support([s["prune_potential"]
                                                         for s in summaries]),
                     paired_by_cycle=_paired_by_cycle(runs, method, delta))
        entry["export"] = {
            variant: dict(prune_potential=_over_seeds(
                [s["export"][variant]["prune_potential"] for s in summaries]))
            for variant in summaries[0]["export"] if all(variant in s["export"] for s in summaries)}
        groups = [s["group_prune_potential"] for s in summaries]
        entry["group_prune_potential"] = {
            group: {k: _stats([g[group][k] for g in groups]) for k in ("mean", "min")}
            for group in groups[0] if all(group in g for g in groups)}
        slopes = [s.get("excess_error_slope") for s in summaries]
        if all(slope is not None for slope in slopes):
            entry["excess_error_slope"] = _stats(slopes)
        across["methods"][method] = entry
    return across


def _plus_minus(stats):
    return f"{100 * stats['mean']:.1f} +- {100 * stats['std']:.1f}"


def table(merged):
    """Per method: each seed's prune potential (%) per distribution, mean +- std."""
    seeds, lines = merged["sweep"]["seeds"], []
    for method, entry in merged["across_seeds"]["methods"].items():
        tflite = entry["export"].get("float32", {}).get("prune_potential", {})
        rows = [["distribution", *(f"seed {s}" for s in seeds), "PP keras", "PP tflite"]]
        rows += [[name, *(f"{100 * v:.1f}" for v in stats["values"]), _plus_minus(stats),
                  _plus_minus(tflite[name]) if name in tflite else "n/a"]
                 for name, stats in sorted(entry["prune_potential"].items(),
                                           key=lambda item: item[0] != results_lib.NOMINAL)]
        lines.append(f"\n{method}: prune potential (%) per seed, and mean +- std over "
                     f"{len(seeds)} seeds, at delta = {merged['delta']} points")
        lines += tables.aligned(rows)
        for group, potential in entry["group_prune_potential"].items():
            lines.append(f"  group {group}: PP mean {_plus_minus(potential['mean'])}, "
                         f"min {_plus_minus(potential['min'])}")
        if "excess_error_slope" in entry:
            lines.append("  excess error slope (points per 100% pruned, test vs train group): "
                         f"{_plus_minus(entry['excess_error_slope'])}")
        lines += _support_lines(entry)
    return "\n".join(lines)


def _support_lines(entry):
    """What the seeds support: which distributions' potentials differ from the nominal one
    beyond the seed spread, and per cycle the pruned-vs-parent verdict every seed shares."""
    support = entry["seed_support"]
    differs = [d for d, s in support.items() if s["differs_from_nominal"]]
    within = [d for d, s in support.items() if not s["differs_from_nominal"]]
    lines = [f"  seeds support a PP different from nominal on: {', '.join(differs) or 'none'}"]
    if within:
        lines.append(f"  within the seed spread of nominal (no finding): {', '.join(within)}")
    paired = entry["paired_by_cycle"]
    if paired:
        names = list(paired[0]["by_distribution"])
        rows = [["pruned vs parent", *(f"{c['target_ratio']:.0%}" for c in paired)]]
        rows += [[name, *(c["by_distribution"][name]["verdict"] for c in paired)]
                 for name in names]
        lines += ["  pruned vs its own seed's parent, the verdict all seeds share (within "
                  "delta, worse, better; mixed: the seeds disagree):",
                  *("  " + line for line in tables.aligned(rows))]
    return lines


def _sweep_report(run_dir, merged, seed_reports):
    """WORKDIR/report.md: the table over seeds, and each seed's report (figures of all
    seeds: line style per seed, mean with a +- std band)."""
    lines = [f"# tfprune sweep: {os.path.basename(run_dir.rstrip('/')) or run_dir}", "",
             f"Seeds {', '.join(map(str, merged['sweep']['seeds']))}; methods "
             f"{', '.join(merged['sweep']['methods'])}. Built by `python -m tfprune.run "
             "--merge` from the units' results.", "", "```", table(merged).strip(), "```", "",
             "## Reports per seed", ""]
    lines += [f"- seed {seed}: {report}" for seed, report in seed_reports.items()]
    path = workdir.report(run_dir)
    storage.write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def merge(config, run_dir, log=print):
    """Build results.json and the reports of a finished sweep from its units' results;
    refused, with nothing written, while a unit is unfinished. Returns the results."""
    config_lib.validate(config)
    seeds, methods = seeds_of(config), config_lib.methods_of(config.prune)
    if len(seeds) > 1:
        workdir.check(config, run_dir, config_lib.base())
    folders = {seed: seed_workdir(config, run_dir, seed) for seed in seeds}
    for seed, folder in folders.items():
        workdir.check(seed_config(config, seed), folder, config_lib.base())
    all_units = units(config)
    missing = [(seed, method) for seed, method in all_units
               if not storage.exists(workdir.results(folders[seed], method))]
    if missing:
        raise errors.ConfigError(_unfinished(config, run_dir, missing))
    per_seed = {seed: _merge_seed(config, run_dir, seed) for seed in seeds}
    for seed, results in per_seed.items():
        storage.write_json(workdir.results(folders[seed]), results)
    if len(seeds) == 1:
        results = per_seed[seeds[0]]
        log(tables.table(results))
        log(f"\nresults: {workdir.results(run_dir)}; "
            f"report: {report.write_report(run_dir)}")
        return results
    merged = dict(schema_version=results_lib.SCHEMA_VERSION,
                  sweep=dict(seeds=seeds, methods=methods,
                             workdirs={str(s): os.path.basename(f) for s, f in folders.items()}),
                  config=json.loads(config.to_json()), delta=config.eval.delta,
                  seeds={str(seed): results for seed, results in per_seed.items()},
                  across_seeds=_across_seeds(list(per_seed.values()), methods,
                                             config.eval.delta))
    storage.write_json(workdir.results(run_dir), merged)
    seed_reports = {seed: report.write_report(folder, [f for f in folders.values()
                                                       if f != folder])
                    for seed, folder in folders.items()}
    log(table(merged))
    log(f"\nresults: {workdir.results(run_dir)}; "
        f"report: {_sweep_report(run_dir, merged, seed_reports)}")
    return merged
