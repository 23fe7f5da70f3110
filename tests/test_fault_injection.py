"""A run killed with SIGKILL at 16 seeded points spread over every stage (data, parent
training, evaluation and TFLite export, each method's pruning, retraining, evaluation
and export, results.json, the report), resumed with the same command after each kill,
ends with the results.json of an uninterrupted run and with its report.

The points come from the file events of the uninterrupted run, which goes on beside the
killed one: every file and folder it creates, temporaries (.tmp-*) and training backups
included, in order. An event is told apart from a like-named one of another stage by its
progress: how many of the run's anchors (lasting files with fixed names, in the order
they appear) exist when it appears. A point is an event plus a seeded delay (a part of
the time to the next event, see PACE): the killed run is stopped that long after the
event appears at the same progress or at its next event, whichever comes first, or as
soon as it has passed the point (an anchor beyond it appears). Each point's stage is
that of the next anchor.

TFPRUNE_FAULT_SEED=<n> draws other points; every failure names its seed.
"""
import bisect
import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

from conftest import QUICK_RUN, ROOT, results_differences

SEED = int(os.environ.get("TFPRUNE_FAULT_SEED", "21"))
KILLS = 16  # every stage once (14), two more in the longest phases
METHODS = ("wt", "ft")  # ft: a structured method, shrunk before TFLite conversion
RUN = [*QUICK_RUN, f"--config.prune.methods={','.join(METHODS)}"]
# The stages in run order; a method's four recur in each of its cycles.
PHASES = ["data", "parent training", "parent evaluation", "parent export", *METHODS,
          "results.json", "report"]
STAGES = [*PHASES[:4], *(f"{method} {part}" for method in METHODS
                         for part in ("pruning", "retraining", "evaluation", "export")),
          "results.json", "report"]
LONG_PHASES = ["parent training", *METHODS, "report"]  # where the points beyond one a stage go
ENV = dict(os.environ, PYTHONUNBUFFERED="1")  # a killed run's log keeps its last lines
POLL_SECONDS = 0.005
# The uninterrupted run shares the cores with the killed one, which then goes on alone, up
# to twice as fast: a delay is a part of PACE times the time to the next event.
PACE = 0.5
ROOMY_SECONDS = 0.1  # a stage's first point is this far from its end, where it can be
# Parts of names that differ between runs: temporaries, TensorBoard and TF checkpoint files.
_VARYING = [(re.compile(r"\.tmp-[A-Za-z0-9_-]+"), ".tmp-*"),
            (re.compile(r"events\.out\.tfevents\.[^/]+$"), "events.out.tfevents.*"),
            (re.compile(r"tempstate\d+"), "tempstate*")]
TRANSIENT = "backup/"  # training backups: fixed names, removed when their stage ends
# The stage whose work an anchor ends; anchors that match none (bare folders such as
# checkpoints/) end the stage of the next one that matches.
_STAGE_OF_ANCHOR = [
    (r"^(config\.json|cache(/.*)?|tensorboard/samples)$", "data"),
    (r"^(tensorboard|checkpoints)/parent([./].*)?$", "parent training"),
    (r"^predictions/parent\.keras\.", "parent evaluation"),
    (r"^(tflite/parent\.|predictions/parent\.tflite-)", "parent export"),
    (r"^tensorboard/(?P<m>[a-z]+)(/cycles|/cycle_\d+(/metrics|/train)?)?$", "{m} pruning"),
    (r"^(tensorboard/(?P<m>[a-z]+)/cycle_\d+/validation|checkpoints/(?P<n>[a-z]+)(/.*)?)$",
     "{m} retraining"),
    (r"^predictions/(?P<m>[a-z]+)-\d+\.keras\.", "{m} evaluation"),
    (r"^(tflite/(?P<m>[a-z]+)-\d+\.|predictions/(?P<n>[a-z]+)-\d+\.tflite-)", "{m} export"),
    (r"^results\.json$", "results.json"),
    (r"^report(/.*|\.md)$", "report"),
]


def _normalized(name, pid):
    """`name` with the parts that differ between runs replaced (`pid`: the writer's)."""
    for pattern, replacement in _VARYING:
        name = pattern.sub(replacement, name)
    return re.sub(rf"(?<![0-9A-Za-z]){pid}(?![0-9A-Za-z])", "<pid>", name)


def _snapshot(workdir):
    """{relative path: inode} of everything under `workdir` (a file written anew by a
    rename gets a new inode)."""
    found, folders, start = {}, [workdir], len(workdir) + 1
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):  # removed while being listed
            continue
        for entry in entries:
            found[entry.path[start:]] = entry.inode()
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
    return found


def _appeared(before, now, workdir, pid):
    """The normalized names created or replaced between two snapshots, in the order they
    were written (a folder just before its first new entry)."""
    changed = [name for name, inode in now.items() if before.get(name) != inode]
    written = {}
    for name in changed:
        try:
            written[name] = os.lstat(os.path.join(workdir, name)).st_mtime_ns
        except FileNotFoundError:  # already renamed or removed: last
            written[name] = float("inf")
    for name in sorted(changed, key=len, reverse=True):  # a folder: its first new entry's
        parent = os.path.dirname(name)
        if parent in written:
            written[parent] = min(written[parent], written[name])
    return [_normalized(name, pid)
            for name in sorted(changed, key=lambda n: (written[n], n.count("/"), n))]


def _stage_of(anchor):
    for pattern, stage in _STAGE_OF_ANCHOR:
        match = re.match(pattern, anchor)
        if match:
            return stage.format(m=match.groupdict().get("m") or match.groupdict().get("n"))
    return None


def _phase_of(stage):
    return stage.split()[0] if stage.split()[0] in METHODS else stage


def _command(workdir):
    return [sys.executable, "-m", "tfprune.run", *RUN, f"--workdir={workdir}"]


@dataclasses.dataclass
class Point:
    """A kill point: `name` appearing when `progress` anchors exist, then `delay` seconds
    (a part of `gap`, the time the uninterrupted run took from there to its next event;
    `window`: to its next anchor)."""
    name: str
    progress: int
    stage: str
    gap: float
    window: float
    delay: float = 0.0


class Uninterrupted(threading.Thread):
    """The uninterrupted run, watched as it goes: its events [(seconds, name)] and anchors
    grow while it runs."""

    def __init__(self, workdir, log_path):
        super().__init__(daemon=True)
        self.workdir, self.log_path = workdir, log_path
        self.events, self.anchors, self.returncode = [], [], None
        self.ended, self.stopped = threading.Event(), threading.Event()

    def run(self):
        try:
            self._watch()
        finally:
            self.ended.set()

    def _watch(self):
        seen = {}
        with open(self.log_path, "w") as log:
            process = subprocess.Popen(_command(self.workdir), cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT, env=ENV)
            started = time.monotonic()
            try:
                while self.returncode is None and not self.stopped.is_set():
                    self.returncode = process.poll()
                    now = _snapshot(self.workdir)
                    moment = time.monotonic() - started
                    for name in _appeared(seen, now, self.workdir, process.pid):
                        self.events.append((moment, name))  # before its anchor: see candidates
                        if (name not in self.anchors and name in now
                                and not name.startswith(TRANSIENT)):
                            self.anchors.append(name)
                    seen = now
                    time.sleep(POLL_SECONDS)
            finally:
                process.kill()
                process.wait()

    def stop(self):
        """End the run (the test failed)."""
        self.stopped.set()
        self.join()

    def candidates(self):
        """Every (event, progress) pair once, with its stage, once that stage is known;
        of the events seen in one look at the workdir, the first alone (the others came
        at the same moment)."""
        anchors, events = list(self.anchors), list(self.events)  # each anchor's event too
        moments = [seconds for seconds, _ in events]
        stages = [_stage_of(anchor) for anchor in anchors]
        appearances = {}  # anchor: when it first appeared
        for seconds, name in events:
            appearances.setdefault(name, seconds)
        found, progress, known = [], 0, set()
        for index, (seconds, name) in enumerate(events):
            if name in anchors[progress:progress + 1]:
                progress += 1
            following = bisect.bisect_right(moments, seconds)  # the next look's first event
            stage = next((s for s in stages[progress:] if s), None)
            if (stage and following < len(events) and moments[index - 1:index] != [seconds]
                    and (name, progress) not in known):
                known.add((name, progress))
                found.append(Point(name, progress, stage, gap=moments[following] - seconds,
                                   window=appearances[anchors[progress]] - seconds))
        return found

    def phase_done(self, phase):
        """Whether every event of `phase` has happened."""
        reached = [s for s in map(_stage_of, self.anchors) if s]
        return self.ended.is_set() or bool(
            reached and PHASES.index(_phase_of(reached[-1])) > PHASES.index(phase))

    def points(self, phase, extra, rng):
        """The points of `phase` (one per stage, `extra` more anywhere in it), in run order,
        drawn once its events are all known."""
        while not self.phase_done(phase):
            time.sleep(0.1)
        if self.ended.is_set() and self.returncode != 0:
            with open(self.log_path) as log:
                raise AssertionError(f"the uninterrupted run failed:\n{log.read()[-3000:]}")
        candidates = [p for p in self.candidates() if _phase_of(p.stage) == phase]
        chosen = []
        for stage in [s for s in STAGES if _phase_of(s) == phase]:
            of_stage = [p for p in candidates if p.stage == stage]
            assert of_stage, f"no event of the uninterrupted run is in {stage}"
            roomy = [p for p in of_stage if p.window >= ROOMY_SECONDS]
            chosen.append(rng.choice(roomy or of_stage))
        chosen += rng.sample([p for p in candidates if p not in chosen], extra)
        for point in sorted(chosen, key=candidates.index):
            point.delay = rng.random() * point.gap * PACE
            yield point


def _progress(snapshot, anchors):
    return max((i + 1 for i, anchor in enumerate(anchors) if anchor in snapshot), default=0)


def _kill_at(workdir, point, anchors, log_path):
    """Start the run and SIGKILL it at `point`; returns where it was killed (the stage of
    the next missing anchor) and how (after the point's delay, at the next event, or at
    once because an earlier kill had passed the point)."""
    lasting = set(anchors)
    seen = _snapshot(workdir)
    with open(log_path, "w+") as log:
        process = subprocess.Popen(_command(workdir), cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, env=ENV)
        # An anchor that exists already will not appear again: its point is where this
        # run's first new file at the same progress appears.
        passed_event = point.name in seen and point.name in lasting
        armed, how = None, None
        try:
            while how is None:
                if process.poll() is not None:
                    log.seek(0)
                    raise AssertionError(f"the run ended (exit code {process.returncode}) "
                                         f"before {point}:\n{log.read()[-3000:]}")
                now = _snapshot(workdir)
                appeared = _appeared(seen, now, workdir, process.pid)
                progress, seen = _progress(now, anchors), now
                if armed is not None and (time.monotonic() >= armed or appeared):
                    how = "after its delay" if time.monotonic() >= armed else "at the next event"
                elif armed is None and progress > point.progress and lasting.intersection(
                        appeared):
                    how = "passed"
                elif armed is None and progress == point.progress and (
                        point.name in appeared or passed_event and appeared):
                    armed = time.monotonic() + point.delay
                    if point.name in appeared[:-1] or passed_event and len(appeared) > 1:
                        how = "at the next event"  # written in the same moment
                if how is None:
                    time.sleep(POLL_SECONDS)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    progress = _progress(_snapshot(workdir), anchors)
    stage = next((s for s in map(_stage_of, anchors[progress:]) if s), "the run's end")
    return stage, how


def test_killed_at_seeded_points_of_every_stage_then_resumed_equals_an_uninterrupted_run(
        tmp_path):
    started = time.monotonic()
    rng = random.Random(SEED)
    extra = dict.fromkeys(PHASES, 0)
    for phase in rng.choices(LONG_PHASES, k=KILLS - len(STAGES)):
        extra[phase] += 1
    uninterrupted = Uninterrupted(str(tmp_path / "uninterrupted"),
                                  str(tmp_path / "uninterrupted.log"))
    uninterrupted.start()
    workdir, kills = str(tmp_path / "killed"), []
    try:
        for phase in PHASES:
            for point in uninterrupted.points(phase, extra[phase], rng):
                where, how = _kill_at(workdir, point, list(uninterrupted.anchors),
                                      str(tmp_path / f"killed-{len(kills) + 1:02d}.log"))
                kills.append(f"{len(kills) + 1:2d}. {point.stage:17} {point.name} "
                             f"+{point.delay:.3f}s: killed before {where} ({how})")
        resumed = subprocess.run(_command(workdir), cwd=ROOT, capture_output=True, text=True,
                                 timeout=600, env=ENV)
    except BaseException:
        uninterrupted.stop()
        raise
    finally:
        record = (f"TFPRUNE_FAULT_SEED={SEED}, {time.monotonic() - started:.0f}s; kills:\n"
                  + "\n".join(kills))
        print(record)
    assert resumed.returncode == 0, f"{record}\n{resumed.stderr[-3000:]}"
    uninterrupted.join()
    assert uninterrupted.returncode == 0, f"{record}\nsee {uninterrupted.log_path}"
    with open(os.path.join(uninterrupted.workdir, "results.json")) as stream:
        expected = json.load(stream)
    with open(os.path.join(workdir, "results.json")) as stream:
        finished = json.load(stream)
    assert results_differences(expected, finished) == [], record
    assert os.path.exists(os.path.join(workdir, "report.md")), record
    assert not os.path.exists(os.path.join(workdir, "backup")), record
