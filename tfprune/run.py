"""python -m tfprune.run --config configs/vgg.py [--config.key=value ...] [--workdir DIR]
[--fresh] [--shard=i/n | --merge]

Runs the sweep of the config (its seeds times its methods; one seed: an ordinary run),
or the i-th of n shards of it, or merges the finished shards (see tfprune.sweep)."""
import os
import re
import traceback

import tfprune  # noqa: F401

import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

from tfprune import api, cli, lock, sweep
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
    text = text.split("\n\nTraceback (most recent call last)")[0]
    return " ".join(text.split())


def _config_argument(argv):
    """The --config value (a file, maybe with ':arguments') as given in `argv`."""
    for position, argument in enumerate(argv):
        if argument.startswith("--config="):
            return argument[len("--config="):]
        if argument == "--config" and position + 1 < len(argv):
            return argv[position + 1]
    return None


def _is_file(filename, config_path):
    return bool(filename) and os.path.exists(filename) and os.path.samefile(filename, config_path)


def _config_file_lines(error, config_path):
    """The lines of the config file that `error`'s traceback (or, for a SyntaxError, its
    position) passes through, innermost last."""
    if not config_path or not os.path.exists(config_path):
        return []
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if _is_file(frame.filename, config_path)]
    if isinstance(error, SyntaxError) and _is_file(error.filename, config_path):
        lines.append(error.lineno)
    return lines


def config_failure(error, argv):
    """The one line for an error raised while the flags and the config file were read:
    absl's and ml_collections' wrappers (with a traceback flattened into the message)
    peeled off down to what the config file raised, named with its line."""
    argument = _config_argument(argv)
    config_path = argument and argument.split(":", 1)[0]
    chain = [error]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    raised = [e for e in chain if _config_file_lines(e, config_path)]
    if not raised and argument and "--config must have a value other than None" in str(error):
        return f"--config={argument}: get_config() returned None; end it with `return config`"
    if not raised:
        return _one_line(error)
    cause = raised[-1]
    text = cause.msg if isinstance(cause, SyntaxError) else _one_line(cause)
    if isinstance(cause, ValueError) and _is_file(
            traceback.extract_tb(cause.__traceback__)[-1].filename, config_path):
        return text  # the file refuses its argument itself: its message names the fix
    return (f"--config={argument}: {type(cause).__name__}: {text} "
            f"({os.path.basename(config_path)}, line {_config_file_lines(cause, config_path)[-1]})"
            "; fix the config file")


def parse_flags(argv):
    """absl's flag parsing, failing in one line with exit 2 (absl adds a usage hint, and a
    config file that raises, does not parse or returns no ConfigDict would end in a
    traceback or a flattened one)."""
    refuse_unknown_overrides(argv)
    try:
        remaining = flags.FLAGS(argv)
        loaded = _CONFIG.value
        if not isinstance(loaded, ml_collections.ConfigDict):
            getattr(loaded, "keys", None)  # a config file that could not be read raises here
            cli.fail(f"--config={_config_argument(argv)}: get_config() returned "
                     f"{type(loaded).__name__}, not a ConfigDict; return the config of "
                     "tfprune.config.base() with your changes, as configs/quickstart.py does")
        return remaining
    except KeyboardInterrupt:
        cli.interrupted()
    except Exception as error:  # noqa: BLE001 (a config file may raise anything)
        cli.fail(config_failure(error, argv))


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
        config_lib.validate(config)  # a config that cannot run writes nothing, not even a lock
        if _MERGE.value:
            with lock.held(workdir, "tfprune.run --merge"):
                sweep.merge(config, workdir)
            return
        shard = None if _SHARD.value is None else sweep.parse_shard(_SHARD.value)
        if _FRESH.value:
            moved = lock.move_aside(workdir, "tfprune.run --fresh")
            if moved:
                print(f"--fresh: moved the old {workdir} to {moved}")
        api.run(config, workdir, shard=shard,
                program="tfprune.run" + (f" --shard={_SHARD.value}" if shard else ""))

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
