"""python -m tfprune.run --config configs/vgg.py [--config.key=value ...] [--workdir DIR]
[--fresh] [--shard=i/n | --merge]

Runs the sweep of the config (its seeds times its methods; one seed: an ordinary run),
or the i-th of n shards of it, or merges the finished shards (see tfprune.sweep)."""
import os
import re

import tfprune  # noqa: F401

from absl import app, flags, logging
from ml_collections import config_flags

from tfprune import cli, storage, sweep
from tfprune import config as config_lib

_CONFIG = config_flags.DEFINE_config_file("config", None, "Python config file (configs/*.py).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: workdirs/<config name>).")
_FRESH = flags.DEFINE_bool("fresh", False, "Start over in an existing --workdir: its old content "
                           "is moved to WORKDIR.old-<time>, never deleted.")
_SHARD = flags.DEFINE_string("shard", None, "i/n: run the i-th of n disjoint parts of the sweep "
                             "(its (seed, method) units), e.g. one per machine on one workdir.")
_MERGE = flags.DEFINE_bool("merge", False, "Build results.json and the report from the finished "
                           "shards' parts.")
flags.mark_flag_as_required("config")


def _one_line(error):
    """An error raised while reading the flags or the config file, as one line."""
    while error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]  # ml_collections wraps a KeyError in an AttributeError
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    text = re.sub(r' Other fields present: ".*?"\n', " ", text, flags=re.S)
    return " ".join(text.split())


def parse_flags(argv):
    """absl's flag parsing, failing in one line with exit 2 (absl adds a usage hint, and a
    config file that cannot be loaded would end in a traceback)."""
    refuse_unknown_overrides(argv)
    try:
        remaining = flags.FLAGS(argv)
        _CONFIG.value.keys()  # a config file that could not be read fails here
        return remaining
    except (flags.Error, OSError, AttributeError, KeyError, TypeError, ValueError) as error:
        cli.fail(_one_line(error))


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the run's own
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}; flags take the form --name=value")
    config_name = os.path.splitext(os.path.basename(
        config_flags.get_config_filename(flags.FLAGS["config"])))[0]
    workdir = _WORKDIR.value or os.path.join("workdirs", config_name)
    if _MERGE.value and _SHARD.value is not None:
        cli.fail("--merge reads every shard's results; run it without --shard")
    if _FRESH.value and (_MERGE.value or _SHARD.value is not None):
        cli.fail("--fresh would move aside the workdir all shards share; move it aside once "
                 "(--fresh without --shard) before starting the shards")

    def job():
        config = _CONFIG.value
        if _MERGE.value:
            sweep.merge(config, workdir)
            return
        shard = None if _SHARD.value is None else sweep.parse_shard(_SHARD.value)
        if _FRESH.value:
            config_lib.validate(config)  # a config that cannot run moves nothing aside
            moved = storage.move_aside(workdir)
            if moved:
                print(f"--fresh: moved the old {workdir} to {moved}")
        sweep.run(config, workdir, shard)

    cli.guarded(job)


def refuse_unknown_overrides(argv):
    """config_flags answers an unknown --config.key with a traceback: answer in one line."""
    for argument in argv[1:]:
        if argument.startswith("--config."):
            error = config_lib.unknown_key_error(argument[len("--config."):].split("=", 1)[0])
            if error:
                cli.fail(error)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
