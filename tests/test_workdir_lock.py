"""The workdir lock (tfprune.lock) between real processes: one exclusive holder at a time,
shared holders (a sweep's shards) together but never beside an exclusive one, the refusal
naming the holder in one line, and the record of a killed holder taken over with a
message."""
import glob
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from conftest import ROOT
from tfprune import errors, lock


def _holder(run_dir, shared=False):
    """A process that holds the lock of `run_dir` until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tfprune import lock\n"
         f"with lock.held({run_dir!r}, 'holder', shared={shared}):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    assert line == "held", process.stderr.read()
    return process


def _release(process):
    process.stdin.close()
    assert process.wait(timeout=60) == 0


def _records(run_dir):
    return glob.glob(os.path.join(run_dir, "lock", "holder-*.json"))


def test_an_exclusive_holder_refuses_every_other_and_is_named(tmp_path):
    run_dir = str(tmp_path / "run")
    holder = _holder(run_dir)
    try:
        for shared in (False, True):
            with pytest.raises(errors.WorkdirError) as refused:
                with lock.held(run_dir, "second", shared=shared):
                    pass
            message = str(refused.value)
            assert "\n" not in message
            assert f"is in use by pid {holder.pid} on {socket.gethostname()} since " in message
            assert "(holder); wait for it to end (or stop it), or use another --workdir" in message
        record, = _records(run_dir)
        with open(record) as stream:
            assert json.load(stream)["pid"] == holder.pid
    finally:
        _release(holder)
    assert not _records(run_dir)  # released with its record
    with lock.held(run_dir, "after"):
        assert len(_records(run_dir)) == 1


def test_shared_holders_coexist_and_keep_an_exclusive_one_out(tmp_path):
    run_dir = str(tmp_path / "run")
    first = _holder(run_dir, shared=True)
    try:
        with lock.held(run_dir, "shard 2", shared=True):
            assert len(_records(run_dir)) == 2
            with pytest.raises(errors.WorkdirError, match=f"pid {first.pid} on "):
                with lock.held(run_dir, "a run"):
                    pass
    finally:
        _release(first)
    with lock.held(run_dir, "a run"):
        pass


def test_a_killed_holders_lock_is_taken_over_with_a_message(tmp_path):
    run_dir = str(tmp_path / "run")
    holder = _holder(run_dir)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=60)
    stale, = _records(run_dir)  # SIGKILL left the record; the OS dropped the flock
    logged = []
    with lock.held(run_dir, "successor", shared=True, log=logged.append):
        assert not os.path.exists(stale)  # a shard, too, tells a dead process of this host
        assert len(_records(run_dir)) == 1
    line, = logged
    assert line.startswith(f"workdir lock: pid {holder.pid} on {socket.gethostname()} since ")
    assert line.endswith(" (holder) has ended without releasing it; taking it over")
    assert not _records(run_dir)


def test_existing_refuses_a_folder_without_a_run_and_creates_nothing(tmp_path):
    with pytest.raises(errors.ConfigError, match="config.json is missing; --workdir must be"):
        with lock.held(str(tmp_path / "none"), "export.tflite", existing=True):
            pass
    assert not os.listdir(tmp_path)
