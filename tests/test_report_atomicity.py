"""A report is never lost: an unreadable results.json, a mistyped --compare path, a full
disk or an unusable figure folder fail in one line (exit 2 on the command line) and leave
the previous report.md and every previous figure as they were; a report that is written
records the digests of what it was built from."""
import hashlib
import json
import os
import re
import resource
import signal
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from tfprune import errors, report
from tfprune.report import figures, markdown

DISTRIBUTIONS = ("nominal", "gaussian_noise_3", "contrast_3")


def _results(tflite=True, shift=0.0):
    """A small results.json with two methods of three cycles; the tolerant reader draws
    the accuracy, prune potential, excess error (and, with `tflite`, Keras vs TFLite)
    figures from it."""
    parent = dict(nominal=0.94, gaussian_noise_3=0.90, contrast_3=0.60)
    methods = {}
    for k, method in enumerate(("wt", "ft")):
        cycles = []
        for index, ratio in enumerate((0.3, 0.6, 0.9), 1):
            accuracy = {d: a - (0.1 + shift) * ratio * (1 + k) for d, a in parent.items()}
            export = dict(float32=dict(accuracy=accuracy, agreement_with_keras={
                d: 0.99 for d in accuracy})) if tflite else {}
            cycles.append(dict(index=index, prune_ratio=ratio, accuracy=accuracy,
                               excess_error=0.01 * index * (1 + k), export=export))
        potential = {d: 0.6 - 0.1 * k for d in DISTRIBUTIONS}
        methods[method] = dict(cycles=cycles, prune_potential=potential, export=dict(
            float32=dict(prune_potential=potential)) if tflite else {})
    return dict(config=dict(data=dict(name="digits"), model=dict(name="cnn_small")),
                delta=0.5, parent=dict(accuracy=parent, export=dict(
                    float32=dict(accuracy=parent)) if tflite else {}), methods=methods)


def _workdir(path, results):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "results.json"), "w") as stream:
        json.dump(results, stream)
    return str(path)


def _reported(path):
    """A run directory with a finished report (keras_vs_tflite.png among its figures)."""
    workdir = _workdir(path, _results())
    report.write_report(workdir)
    assert os.path.exists(os.path.join(workdir, "report", "keras_vs_tflite.png"))
    return workdir


def _report_files(workdir):
    """{path: SHA-256} of report.md and every file below report/ (temporaries included)."""
    found = {}
    for folder, _, names in os.walk(workdir):
        for name in names:
            path = os.path.join(folder, name)
            if name == "report.md" or os.path.relpath(path, workdir).startswith("report"):
                with open(path, "rb") as stream:
                    found[path] = hashlib.sha256(stream.read()).hexdigest()
    return found


def _command(workdir, *flags, preexec_fn=None):
    return subprocess.run([sys.executable, "-m", "tfprune.report", "--workdir", workdir, *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=180,
                          preexec_fn=preexec_fn)


def _one_line_error(done, expected):
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and re.search(expected, line), line
    return line


def test_a_truncated_results_json_fails_in_one_line_and_keeps_the_report(tmp_path):
    workdir = _reported(tmp_path / "run")
    before = _report_files(workdir)
    with open(os.path.join(workdir, "results.json"), "r+") as stream:
        stream.truncate(len(stream.read()) // 2)
    done = _command(workdir)
    _one_line_error(done, r"results\.json is unreadable \(.+\); rerun the run's python -m "
                          r"tfprune\.run command to rebuild it")
    assert _report_files(workdir) == before


@pytest.mark.parametrize("content, expected", [
    (b"[1, 2]", r"results\.json does not hold a JSON object; rerun the run's"),
    (b"\xff\xfe{", r"results\.json is unreadable"),
    ("folder", r"results\.json is unreadable \(Is a directory\)"),  # an OS read failure
    (None, r"--workdir=.* has no results\.json \(not a run directory, or its run has not "
           r"finished its first evaluation\); finish that run first"),
])
def test_an_unusable_results_json_writes_nothing(tmp_path, content, expected):
    workdir = _reported(tmp_path / "run")
    before = _report_files(workdir)
    results = os.path.join(workdir, "results.json")
    if content is None:
        os.remove(results)
    elif content == "folder":
        os.remove(results)
        os.makedirs(results)
    else:
        with open(results, "wb") as stream:
            stream.write(content)
    with pytest.raises(errors.WorkdirError, match=expected):
        report.write_report(workdir)
    assert _report_files(workdir) == before


def test_a_mistyped_compare_path_is_refused_in_one_line(tmp_path):
    workdir = _reported(tmp_path / "run")
    before = _report_files(workdir)
    done = _command(workdir, "--compare", str(tmp_path / "rnu"))
    _one_line_error(done, r"--compare=.*/rnu does not exist; pass the --workdir of a python -m "
                          r"tfprune\.run run")
    os.makedirs(tmp_path / "elsewhere")
    (tmp_path / "notes.txt").write_text("not a run")
    for path, expected in ((tmp_path / "elsewhere", r"--compare=.*/elsewhere has no results"),
                           (tmp_path / "notes.txt", r"notes\.txt is a file, not a folder")):
        with pytest.raises(errors.WorkdirError, match=expected):
            report.write_report(workdir, [str(path)])
    with pytest.raises(errors.WorkdirError, match=r"--workdir=.*/missing does not exist"):
        report.write_report(str(tmp_path / "missing"))
    assert _report_files(workdir) == before


def test_a_full_disk_while_drawing_keeps_the_previous_report_whole(tmp_path):
    """The disk fills while the new figures are drawn: a file-size limit (RLIMIT_FSIZE, a
    real OS refusal that holds for root too) lets the first figure through and refuses a
    larger later one. Nothing of the new report is published, the previous one's figures
    (one the new report would no longer draw too) stay, and the command fails."""
    workdir = _reported(tmp_path / "run")
    before = _report_files(workdir)
    _workdir(workdir, _results(tflite=False, shift=0.05))  # a new report would differ
    dry = str(tmp_path / "dry")
    shutil.copytree(workdir, dry)
    report.write_report(dry)  # the new report's figure sizes, in the order they are drawn
    paths = [os.path.join(dry, "report", f.file) for f in figures.REGISTRY]
    sizes = [os.path.getsize(p) for p in paths if os.path.exists(p)]
    limit = (sizes[0] + max(sizes)) // 2
    assert sizes[0] < limit < max(sizes)

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = _command(workdir, preexec_fn=limited)
    _one_line_error(done, r"report not updated, .*report\.md and its figures are kept as they "
                          r"were: cannot write .* \(File too large\); free disk space")
    assert _report_files(workdir) == before
    assert not [n for n in os.listdir(workdir) if n.startswith(".tmp-")]
    assert _command(workdir).returncode == 0  # room again: the report is rebuilt
    assert not os.path.exists(os.path.join(workdir, "report", "keras_vs_tflite.png"))


def test_an_unusable_figure_folder_fails_before_anything_is_published(tmp_path):
    workdir = _reported(tmp_path / "run")
    figure = os.path.join(workdir, "report", "accuracy_groups.png")
    os.remove(figure)
    os.makedirs(figure)  # a final figure path that is a folder
    before = _report_files(workdir)
    _workdir(workdir, _results(shift=0.05))
    with pytest.raises(errors.WorkdirError, match=r"report not updated: .*accuracy_groups\.png "
                                                  r"is a folder; move it away"):
        report.write_report(workdir)
    assert _report_files(workdir) == before

    os.rmdir(figure)
    for name in os.listdir(os.path.join(workdir, "report")):
        os.remove(os.path.join(workdir, "report", name))
    os.rmdir(os.path.join(workdir, "report"))
    with open(os.path.join(workdir, "report"), "w") as stream:  # the figure folder's path
        stream.write("a file")
    before = _report_files(workdir)
    with pytest.raises(errors.WorkdirError, match=r"report not updated, .*report\.md and its "
                                                  r"figures are kept as they were: cannot write"):
        report.write_report(workdir)
    assert _report_files(workdir) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_workdir_keeps_the_previous_report(tmp_path):
    workdir = _reported(tmp_path / "run")
    before = _report_files(workdir)
    folders = [workdir, os.path.join(workdir, "report")]
    for folder in folders:
        os.chmod(folder, 0o555)
    try:
        with pytest.raises(errors.WorkdirError, match=r"report not updated, .*Permission denied"):
            report.write_report(workdir)
    finally:
        for folder in folders:
            os.chmod(folder, 0o755)
    assert _report_files(workdir) == before


def test_the_report_records_the_digests_it_was_built_from(tmp_path):
    workdir = _reported(tmp_path / "run")
    other = _workdir(tmp_path / "other", _results(tflite=False, shift=0.02))
    report.write_report(workdir, [other])
    with open(os.path.join(workdir, "report.md")) as stream:
        last = stream.read().splitlines()[-1]
    assert last.startswith(markdown.SOURCES_MARK) and last.endswith(" -->")
    record = json.loads(last[len(markdown.SOURCES_MARK):-len(" -->")])

    def digest(path):
        with open(path, "rb") as stream:
            return hashlib.sha256(stream.read()).hexdigest()

    assert record["results"] == {os.path.join(w, "results.json"): digest(
        os.path.join(w, "results.json")) for w in (workdir, other)}
    drawn = sorted(os.listdir(os.path.join(workdir, "report")))
    assert sorted(record["figures"]) == drawn and "prune_potential_runs.png" in drawn
    assert record["figures"] == {f: digest(os.path.join(workdir, "report", f)) for f in drawn}


def _killed_while_staging(workdir):
    """Start the report command and SIGKILL it once its staging folder exists; whether it
    was killed before it finished."""
    figure_folder = os.path.join(workdir, "report")
    process = subprocess.Popen([sys.executable, "-m", "tfprune.report", "--workdir", workdir],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and not any(
            n.startswith(".tmp-report-") for n in os.listdir(figure_folder)):
        time.sleep(0.005)
    process.kill()
    return process.wait() == -signal.SIGKILL


def test_a_killed_report_keeps_the_previous_one_and_its_staging_is_removed_later(tmp_path):
    """SIGKILL while the figures are staged: the previous report stays whole; the next
    report removes the staging folder the dead process left."""
    for attempt in range(5):  # the process must be caught while it stages (seconds of it)
        workdir = _reported(tmp_path / f"run{attempt}")
        before = _report_files(workdir)
        _workdir(workdir, _results(tflite=False, shift=0.05))
        if _killed_while_staging(workdir):
            break
    else:
        pytest.fail("the report finished each time before it could be killed")
    staged = {p: d for p, d in _report_files(workdir).items() if "/.tmp-report-" in p}
    assert {p: d for p, d in _report_files(workdir).items() if p not in staged} == before
    assert [n for n in os.listdir(os.path.join(workdir, "report"))
            if n.startswith(".tmp-report-")]  # the dead process's staging folder
    report.write_report(workdir)
    assert not [n for n in os.listdir(os.path.join(workdir, "report")) if n.startswith(".tmp-")]
