"""A report's files drawn into a staging folder first and published together once all of
them are written: a full disk or a read-only folder while figures are drawn fails before
any of them replaces a file of the previous report, which stays whole."""
import os
import re
import shutil
import socket
import tempfile
import uuid

from tfprune import errors, storage
from tfprune import workdir as layout

_HOST = re.sub(r"[^A-Za-z0-9.-]+", "_", socket.gethostname())
_FOLDER = re.compile(r"^\.tmp-report-(?P<host>[A-Za-z0-9._-]+)-(?P<pid>\d+)-[0-9a-f]{12}$")


class Staging:
    """Where the files of one report are written before they are published (a context
    manager: the staging folder is removed on the way out, published or not).

    A local workdir stages in a hidden folder inside its figure folder: writing there
    proves the folder writable, and publishing is a rename on one file system, which
    needs no free space. A tf.io.gfile workdir stages in a local temporary folder, and
    each file is then copied in atomically (tfprune.storage). A staging folder that a
    killed report left behind (its process, on this host, is gone) is removed."""

    def __init__(self, workdir):
        if storage.is_local(workdir):
            _remove_abandoned(os.path.dirname(layout.figure(workdir, "-")))  # figure folder
            self.folder = layout.figure(
                workdir, f".tmp-report-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}")
        else:
            self.folder = tempfile.mkdtemp(prefix="tfprune-report-")

    def __enter__(self):
        return self

    def __exit__(self, *_):
        shutil.rmtree(self.folder, ignore_errors=True)

    def path(self, final):
        """Where to write the file that is to become `final` (names in a report are unique)."""
        return os.path.join(self.folder, os.path.basename(final))

    def digest(self, final):
        """The SHA-256 of the staged file that is to become `final`."""
        return storage.file_digest(self.path(final))

    def publish(self, finals):
        """Move each staged file onto its final path, in the order given; refused before
        the first move when a final path is a folder."""
        for final in finals:
            if storage.isdir(final):
                raise errors.WorkdirError(f"report not updated: {final} is a folder; move it "
                                          "away, then rerun the same command")
        for final in finals:
            storage.publish(self.path(final), final)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _remove_abandoned(folder):
    """Remove the staging folders in `folder` of reports whose process on this host has
    ended (killed before they cleaned up); those of running reports stay."""
    for name in storage.listdir(folder):
        found = _FOLDER.match(name)
        if found and found["host"] == _HOST and not _alive(int(found["pid"])):
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
