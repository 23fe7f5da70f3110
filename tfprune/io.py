"""A run's files: written atomically (a crash or a full disk never leaves a half-written
result behind), read back with one-line errors, moved aside (never deleted) to start over."""
import json
import os
import re
import tempfile
import time

import numpy as np


class WorkdirError(RuntimeError):
    """A run's file that cannot be written (full disk, read-only folder) or read back
    (truncated, corrupt); the message is one line that names the fix."""


_FIX = "free disk space or make the folder writable, then rerun the same command to continue"
# How the OS words a write refused for want of room or permission; TensorFlow's file
# errors (summary events, checkpoints) quote it.
_STORAGE_FAILURES = ("No space left on device", "File too large", "Disk quota exceeded",
                     "Read-only file system", "Permission denied")


def _unwritable(path, error):
    return WorkdirError(f"cannot write {path} ({error.strerror or error}); {_FIX}")


def storage_failure(error):
    """A WorkdirError for a TensorFlow error that a full or read-only disk caused, else None."""
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(error)).strip()
    if not any(words in message for words in _STORAGE_FAILURES):
        return None
    return WorkdirError(f"TensorFlow cannot write ({message.splitlines()[0]}); {_FIX}")


def _atomic(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-",
                                             suffix=os.path.splitext(path)[1])
    except OSError as error:
        raise _unwritable(path, error) from error
    try:
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


def write_json(path, payload):
    _atomic(path, lambda s: s.write((json.dumps(payload, indent=2, sort_keys=True) + "\n")
                                    .encode()))


def write_bytes(path, payload):
    _atomic(path, lambda s: s.write(payload))


def save_array(path, array):
    _atomic(path, lambda s: np.save(s, array, allow_pickle=False))


def load_array(path, shape, dtype):
    """The cached array, or None when it is missing or not what is expected."""
    if not os.path.exists(path):
        return None
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return array if array.shape == tuple(shape) and array.dtype == dtype else None


def save_model(path, model):
    """Save a Keras model atomically (Keras wants the .keras suffix on the temporary too)."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, ".tmp-" + os.path.basename(path))
    try:
        os.makedirs(directory, exist_ok=True)
        model.save(temporary)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise _unwritable(path, error) from error


def load_model(path):
    """A Keras model saved by `save_model`; a truncated or corrupt file is a WorkdirError
    that names the file and how to redo its stage."""
    import zipfile

    import tfprune  # noqa: F401  (legacy Keras, before TensorFlow loads)
    import tensorflow as tf

    try:
        return tf.keras.models.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise WorkdirError(f"{path} cannot be loaded ({cause}); delete it and its .json "
                           "record to redo that stage, then rerun the same command") from error


def move_aside(path):
    """Rename `path` to PATH.old-<time> (never deleting it); returns the new name, or None
    when there is nothing at `path`."""
    if not os.path.lexists(path):
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, number = f"{path.rstrip(os.sep)}.old-{stamp}", 1
    while os.path.lexists(target):
        number += 1
        target = f"{path.rstrip(os.sep)}.old-{stamp}-{number}"
    os.rename(path, target)
    return target


def save_arrays(path, arrays):
    """A dict of named arrays as one .npz, atomically."""
    _atomic(path, lambda s: np.savez(s, **arrays))


def load_arrays(path, required):
    """The arrays of an .npz that holds all `required` names; None if missing or unreadable."""
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if not set(required) <= set(stored.files):
                return None
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError):
        return None
