"""What every command-line entry point shares: a user error ends the process with its
one-line message and exit code 2, an interrupt (Ctrl-C) with one line and exit code 130,
never a traceback."""
import sys

import tfprune  # noqa: F401
import tensorflow as tf

from export.litert import TFLiteError
from tfprune import errors, storage

INTERRUPTED = "interrupted; rerun the same command to continue"


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def interrupted():
    """Every file is written atomically, so an interrupt loses only the stage under way."""
    print(INTERRUPTED, file=sys.stderr)
    sys.exit(130)


def guarded(job):
    """Run `job()`; a user error (tfprune.errors, an unreadable .tflite file, a full or
    read-only disk under TensorFlow's own writes) ends the process in one line, exit 2;
    Ctrl-C in one line, exit 130."""
    try:
        return job()
    except (errors.UserError, TFLiteError) as error:
        fail(error)
    except tf.errors.OpError as error:  # TensorFlow's own writes: summaries, backups
        failure = storage.storage_failure(error)
        if failure is None:
            raise
        fail(failure)
    except KeyboardInterrupt:
        interrupted()
