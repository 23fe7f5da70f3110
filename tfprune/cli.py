"""What every command-line entry point shares: a user error ends the process with its
one-line message and exit code 2, never a traceback."""
import sys

import tfprune  # noqa: F401
import tensorflow as tf

from export.litert import TFLiteError
from tfprune import errors, storage


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def guarded(job):
    """Run `job()`; a user error (tfprune.errors, an unreadable .tflite file, a full or
    read-only disk under TensorFlow's own writes) ends the process in one line, exit 2."""
    try:
        return job()
    except (errors.UserError, TFLiteError) as error:
        fail(error)
    except tf.errors.OpError as error:  # TensorFlow's own writes: summaries, backups
        failure = storage.storage_failure(error)
        if failure is None:
            raise
        fail(failure)
