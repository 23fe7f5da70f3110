"""The workdir lock: while a command writes a workdir, no other command starts writing it.

The command-line entry points flock WORKDIR/lock/workdir.lock for their whole life:
exclusively (a run, --fresh, --merge, export.tflite, export.merge), or shared by the
processes of one job that write disjoint files (the shards of a sweep, the workers of a
multi_worker run, export.bundle, which only reads the run). The OS drops the flock of a
process that ends, however it ends, so a lock never outlives its holder. Each holder also
records its pid, host, start time and command in lock/holder-<host>-<pid>.json, to name
it when another command is refused; a record left behind by a killed process is noticed
by the next holder and removed with a message.

Workdirs on tf.io.gfile storage (gs://, ...) have no flock and are not locked.
"""
import contextlib
import fcntl
import os
import socket
import sys
import time

from tfprune import errors, storage, workdir


def _alive(record):
    """Whether a holder record's process still runs (one on another host counts as running:
    its pid says nothing here)."""
    pid = record.get("pid")
    if record.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _records(run_dir):
    found = []
    for path in workdir.lock_holders(run_dir):
        try:
            found.append((path, storage.read_json(path)))
        except (OSError, ValueError):
            continue  # removed meanwhile: its holder has just ended
    return found


def _describe(record):
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("since", 0)))
    return (f"pid {record.get('pid')} on {record.get('host')} since {since} "
            f"({record.get('program')})")


def _refusal(run_dir, shared):
    holders = [record for _, record in _records(run_dir) if _alive(record)]
    named = "; ".join(_describe(record) for record in holders[:3]) or "a process starting up"
    extra = f" and {len(holders) - 3} more" if len(holders) > 3 else ""
    return (f"{run_dir} is in use by {named}{extra}; wait for it to end (or stop it), or use "
            f"another --workdir" + ("" if shared else "; the shards of one sweep (--shard) "
                                    "may share a workdir, nothing else"))


def _open(run_dir):
    path = workdir.lock_file(run_dir)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError as error:
        raise errors.WorkdirError(
            f"cannot write {path} ({error.strerror}); free disk space or make the folder "
            "writable, then rerun the same command") from error


@contextlib.contextmanager
def held(run_dir, program, shared=False, record=True, existing=False, log=print):
    """Hold the lock of `run_dir` (created if need be) for the `with` block; refused in one
    line naming the holder when another command holds it (any holder, for an exclusive
    lock; an exclusive one, for a shared lock). `program`: this command, for the record;
    `existing`: refuse a folder that holds no run instead of creating a lock in it."""
    workdir.require_folder(run_dir)
    if existing:
        workdir.require_run(run_dir)
    if not storage.is_local(run_dir):
        yield
        return
    handle = _open(run_dir)
    try:
        fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise errors.WorkdirError(_refusal(run_dir, shared)) from None
    host, mine = socket.gethostname(), None
    try:
        for path, found in _records(run_dir):
            if not shared or not _alive(found):  # an exclusive holder's others are all gone
                log(f"workdir lock: {_describe(found)} has ended without releasing it; "
                    "taking it over")
                storage.remove_file(path)
        if record:
            mine = workdir.lock_holder(run_dir, host, os.getpid())
            try:
                storage.write_json(mine, dict(pid=os.getpid(), host=host, since=time.time(),
                                              program=program, command=sys.argv))
            except errors.WorkdirError:
                mine = None  # a read-only or full disk: the run's own first write says so
        yield
    finally:
        if mine:
            with contextlib.suppress(OSError):
                os.unlink(mine)  # before the flock goes: a record always has a live holder
        os.close(handle)


def move_aside(run_dir, program):
    """storage.move_aside under the exclusive lock (refused while a command holds the
    workdir); nothing is recorded, so the moved-aside run holds just its own files."""
    if not storage.exists(run_dir) or not storage.isdir(run_dir):
        return storage.move_aside(run_dir)
    with held(run_dir, program, record=False):
        return storage.move_aside(run_dir)
