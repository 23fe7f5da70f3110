"""A run's files: written atomically (a crash or a full disk never leaves a half-written
result behind), read back with one-line errors, moved aside (never deleted) to start over.

A path with a scheme (gs://, ram://, any tf.io.gfile file system) goes through
tf.io.gfile, imported only then (tfprune.report runs without TensorFlow); a local path
through the os module as before.
"""
import functools
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile

import numpy as np

from tfprune import errors

_FIX = "free disk space or make the folder writable, then rerun the same command to continue"
# How the OS words a write refused for want of room or permission; TensorFlow's file
# errors (summary events, checkpoints) quote it.
_STORAGE_FAILURES = ("No space left on device", "File too large", "Disk quota exceeded",
                     "Read-only file system", "Permission denied")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# The sidecar of a saved array: PATH.sha256 holds arrays_digest of the array.
DIGEST_SUFFIX = ".sha256"


def _process_umask():
    """The umask, read without changing it where the OS shows it (Linux): os.umask reads
    it only by setting it, which races with threads creating files."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _umask_by_setting()


@functools.cache
def _umask_by_setting():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _follow_umask(target):
    """Give a file made by mkstemp (mode 0600) the mode open() would have given it; `target`
    is a file descriptor or a path."""
    mode = 0o666 & ~_process_umask()
    if isinstance(target, int):
        os.fchmod(target, mode)
    else:
        os.chmod(target, mode)


def is_local(path):
    """Whether `path` is a plain file-system path, not a tf.io.gfile URL (gs://, ram://)."""
    return not _SCHEME.match(os.fspath(path))


def _tf():
    """TensorFlow, imported only for tf.io.gfile paths (tfprune.report runs without it);
    importing this module ran tfprune/__init__.py, which selects legacy Keras first."""
    import tensorflow as tf

    return tf


def reason(error):
    """The first line of what an OS, JSON or TensorFlow error says."""
    text = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0]


def _unwritable(path, error):
    return errors.WorkdirError(f"cannot write {path} ({reason(error)}); {_FIX}")


def exists(path):
    return os.path.exists(path) if is_local(path) else _tf().io.gfile.exists(path)


def isdir(path):
    return os.path.isdir(path) if is_local(path) else _tf().io.gfile.isdir(path)


def remove_tree(path):
    """Delete folder `path` and, while they are empty, its parent folders (a finished
    stage's backup); nothing when it does not exist."""
    if is_local(path):
        shutil.rmtree(path, ignore_errors=True)
        try:
            os.removedirs(os.path.dirname(path))
        except OSError:
            pass  # a parent still holds something
        return
    gfile = _tf().io.gfile
    if gfile.exists(path):
        gfile.rmtree(path)
    parent = os.path.dirname(path)
    while "://" in parent and gfile.isdir(parent) and not gfile.listdir(parent):
        gfile.rmtree(parent)
        parent = os.path.dirname(parent)


def listdir(path):
    """The names in folder `path`; [] when it does not exist."""
    if not isdir(path):
        return []
    return sorted(os.listdir(path) if is_local(path) else
                  (name.rstrip("/") for name in _tf().io.gfile.listdir(path)))


def read_bytes(path):
    """A file's content; OSError when it cannot be read (also for tf.io.gfile paths)."""
    if is_local(path):
        with open(path, "rb") as stream:
            return stream.read()
    tf = _tf()
    try:
        with tf.io.gfile.GFile(path, "rb") as stream:
            return stream.read()
    except tf.errors.OpError as error:
        raise OSError(f"{path}: {reason(error)}") from error


def read_json(path):
    """A JSON file's content; OSError or ValueError as json.load raises them."""
    return json.loads(read_bytes(path))


def storage_failure(error):
    """A WorkdirError for a TensorFlow error that a full or read-only disk caused, else None."""
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(error)).strip()
    if not any(words in message for words in _STORAGE_FAILURES):
        return None
    return errors.WorkdirError(f"TensorFlow cannot write ({message.splitlines()[0]}); {_FIX}")


def _atomic(path, write):
    if not is_local(path):
        return _atomic_gfile(path, write)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-",
                                             suffix=os.path.splitext(path)[1])
    except OSError as error:
        raise _unwritable(path, error) from error
    try:
        _follow_umask(handle)
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise _unwritable(path, error) from error
        raise


def _atomic_gfile(path, write):
    """The content is built in memory and written to a uniquely named temporary beside
    `path`, then renamed onto it: readers see the old file or the whole new one."""
    buffer = io.BytesIO()
    write(buffer)

    def put(temporary):
        with _tf().io.gfile.GFile(temporary, "wb") as stream:
            stream.write(buffer.getvalue())

    _gfile_replace(path, put)


def _gfile_replace(path, put):
    """`put(temporary)` writes a temporary beside tf.io.gfile `path`, renamed onto it."""
    tf = _tf()
    directory, name = path.rstrip("/").rsplit("/", 1)
    temporary = f"{directory}/.tmp-{uuid.uuid4().hex}-{name}"
    try:
        tf.io.gfile.makedirs(directory)
        put(temporary)
        tf.io.gfile.rename(temporary, path, overwrite=True)
    except tf.errors.OpError as error:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
        raise _unwritable(path, error) from error


def publish(local_file, path):
    """Move a finished local file to `path` (any tf.io.gfile path too), atomically: a
    reader of `path` finds the old file or the whole new one, never a part."""
    if not is_local(path):
        _gfile_replace(path, lambda temporary: _tf().io.gfile.copy(local_file, temporary))
        os.remove(local_file)
        return
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        shutil.move(local_file, path + ".partial")
        _follow_umask(path + ".partial")
        os.replace(path + ".partial", path)
    except OSError as error:
        raise _unwritable(path, error) from error


def write_json(path, payload):
    _atomic(path, lambda s: s.write((json.dumps(payload, indent=2, sort_keys=True) + "\n")
                                    .encode()))


def write_bytes(path, payload):
    _atomic(path, lambda s: s.write(payload))


def bytes_digest(content):
    """The SHA-256 (hex) of `content`: what a derived file records of its source."""
    return hashlib.sha256(content).hexdigest()


def file_digest(path):
    """bytes_digest of a file's content, read in blocks."""
    if not is_local(path):
        return bytes_digest(read_bytes(path))
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def arrays_digest(arrays):
    """The SHA-256 (hex) of named arrays' names, dtypes, shapes and values: equal for equal
    content however the file holding it was written (an .npz records its write time)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.reshape(-1).view(np.uint8) if array.size else b"")
    return digest.hexdigest()


def save_array(path, array):
    """An array as .npy, with its digest in PATH.sha256 (written second: an array without
    one is made again)."""
    _atomic(path, lambda s: np.save(s, array, allow_pickle=False))
    write_bytes(path + DIGEST_SUFFIX, arrays_digest(dict(array=array)).encode())


def load_array(path, shape, dtype):
    """The cached array, or None when it is missing, not what is expected, or its content
    does not match the digest saved with it (corrupt bytes after an intact header)."""
    if not exists(path):
        return None
    try:
        array = np.load(_readable(path), allow_pickle=False)
        recorded = read_bytes(path + DIGEST_SUFFIX).decode("ascii", "replace").strip()
    except (OSError, ValueError, EOFError):
        return None
    if array.shape != tuple(shape) or array.dtype != dtype:
        return None
    return array if arrays_digest(dict(array=array)) == recorded else None


def open_array(path):
    """An .npy file's array without its checks: memory-mapped when local (a reader wanting
    one image of a cached set reads just that), read whole through tf.io.gfile otherwise."""
    return np.load(_readable(path), mmap_mode="r" if is_local(path) else None,
                   allow_pickle=False)


def remove_file(path):
    """Delete file `path`; nothing when it does not exist."""
    if not exists(path):
        return
    if is_local(path):
        os.unlink(path)
    else:
        _tf().io.gfile.remove(path)


def _readable(path):
    """What np.load reads: a local path itself, a tf.io.gfile path's bytes."""
    return path if is_local(path) else io.BytesIO(read_bytes(path))


def save_model(path, model):
    """Save a Keras model atomically. Keras wants the .keras suffix on the temporary too,
    and writes local files only: it saves into a private temporary folder (processes
    that save the same network at once, as shards training one parent, do not collide)."""
    if not is_local(path):
        with tempfile.TemporaryDirectory() as local:
            staged = os.path.join(local, os.path.basename(path))
            model.save(staged)
            write_bytes(path, read_bytes(staged))
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        staging = tempfile.mkdtemp(dir=directory, prefix=".tmp-")
    except OSError as error:
        raise _unwritable(path, error) from error
    try:
        model.save(os.path.join(staging, os.path.basename(path)))
        os.replace(os.path.join(staging, os.path.basename(path)), path)
    except OSError as error:
        raise _unwritable(path, error) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_model(path):
    """A Keras model saved by `save_model`; a truncated or corrupt file is a WorkdirError
    that names the file and how to redo its stage."""
    tf = _tf()
    try:
        if is_local(path):
            return tf.keras.models.load_model(path, compile=False)
        with tempfile.TemporaryDirectory() as local:  # Keras reads local files only
            staged = os.path.join(local, os.path.basename(path))
            with open(staged, "wb") as stream:
                stream.write(read_bytes(path))
            return tf.keras.models.load_model(staged, compile=False)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise errors.WorkdirError(f"{path} cannot be loaded ({cause}); delete it and its .json "
                                  "record to redo that stage, then rerun the same "
                                  "command") from error


def move_aside(path):
    """Rename `path` to PATH.old-<time> (never deleting it); returns the new name, or None
    when there is nothing at `path`."""
    present = os.path.lexists if is_local(path) else exists
    if not present(path):
        return None
    base = f"{path.rstrip('/')}.old-{time.strftime('%Y%m%d-%H%M%S')}"
    target, number = base, 1
    while present(target):
        number += 1
        target = f"{base}-{number}"
    if is_local(path):
        os.rename(path, target)
    else:
        _copy_then_remove(path.rstrip("/"), target)
    return target


def _copy_then_remove(path, target):
    """Move a tf.io.gfile folder file by file: a folder's gfile.rename is no move everywhere
    (ram:// renames the folder and drops its files; object stores have no folders). The
    originals are removed once every copy exists, by name (rmtree on ram:// also deletes
    PATH.old-*); an empty folder may stay behind where the file system keeps folders."""
    gfile = _tf().io.gfile
    try:
        if not gfile.isdir(path):
            gfile.rename(path, target)
            return
        moved = []
        for folder, _, names in gfile.walk(path):
            folder = folder.rstrip("/")
            destination = target + folder[len(path):]
            gfile.makedirs(destination)
            for name in names:
                gfile.copy(f"{folder}/{name}", f"{destination}/{name}")
                moved.append(f"{folder}/{name}")
        for original in moved:
            gfile.remove(original)
    except _tf().errors.OpError as error:
        raise errors.WorkdirError(f"cannot move {path} aside to {target} ({reason(error)}); "
                                  "no file is lost (each is in one or both): finish the move "
                                  "with the storage's own tools (e.g. gsutil mv), or use a new "
                                  "--workdir") from error


# Names in an .npz of derived arrays that record a digest of what they were derived from.
SOURCE_PREFIX = "derived_from:"


def save_arrays(path, arrays, sources=None):
    """A dict of named arrays as one .npz, atomically, with the digests of their `sources`
    ({what: digest}) as SOURCE_PREFIX<what> strings."""
    recorded = {SOURCE_PREFIX + what: np.array(digest) for what, digest in
                (sources or {}).items()}
    _atomic(path, lambda s: np.savez(s, **arrays, **recorded))


def split_sources(stored):
    """(arrays, {what: digest}) of what load_arrays read from a file save_arrays wrote."""
    arrays = {k: v for k, v in stored.items() if not k.startswith(SOURCE_PREFIX)}
    return arrays, {k[len(SOURCE_PREFIX):]: str(v) for k, v in stored.items()
                    if k.startswith(SOURCE_PREFIX)}


def load_arrays(path, required):
    """The arrays of an .npz that holds all `required` names; None if missing or unreadable."""
    if not exists(path):
        return None
    try:
        with np.load(_readable(path), allow_pickle=False) as stored:
            if not set(required) <= set(stored.files):
                return None
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None  # truncated or corrupt: each member's CRC-32 is checked as it is read
