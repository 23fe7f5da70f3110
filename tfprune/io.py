"""Atomic file writes: a crash or a full disk never leaves a half-written result behind."""
import json
import os
import tempfile

import numpy as np


def _atomic(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-",
                                         suffix=os.path.splitext(path)[1])
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
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
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, ".tmp-" + os.path.basename(path))
    model.save(temporary)
    os.replace(temporary, path)


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
