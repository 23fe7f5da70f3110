"""python -m tfprune.run --config configs/vgg.py [--config.key=value ...] [--workdir DIR]"""
import os
import sys

import tfprune  # noqa: F401

from absl import app, flags, logging
from ml_collections import config_flags

from tfprune import config as config_lib
from tfprune import pipeline

_CONFIG = config_flags.DEFINE_config_file("config", None, "Python config file (configs/*.py).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: workdirs/<config name>).")
flags.mark_flag_as_required("config")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the run's own
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config_name = os.path.splitext(os.path.basename(
        config_flags.get_config_filename(flags.FLAGS["config"])))[0]
    workdir = _WORKDIR.value or os.path.join("workdirs", config_name)
    pipeline.main_guarded(lambda: pipeline.run(_CONFIG.value, workdir))


def refuse_unknown_overrides(argv):
    """config_flags answers an unknown --config.key with a traceback: answer in one line."""
    for argument in argv[1:]:
        if argument.startswith("--config."):
            error = config_lib.unknown_key_error(argument[len("--config."):].split("=", 1)[0])
            if error:
                print(f"error: {error}", file=sys.stderr)
                sys.exit(2)


if __name__ == "__main__":
    refuse_unknown_overrides(sys.argv)
    app.run(main)
