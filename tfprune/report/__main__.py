"""python -m tfprune.report --workdir RUN_DIR [--compare RUN_DIR ...]

Writes RUN_DIR/report.md and its figures; prints the path of report.md. `--compare`
overlays other runs: repeat the flag, or list the run directories after it. The flags
live here alone, so that importing tfprune.report (as the pipeline does) defines none.

A user error ends in its one line and exit code 2, Ctrl-C in one line and 130, as
tfprune.cli does for the other commands (which imports TensorFlow; this one must not).
"""
import sys

from absl import app, flags

from tfprune import errors, report

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory holding results.json.")
_COMPARE = flags.DEFINE_multi_string(
    "compare", [], "Other run directories to overlay (repeat the flag, or list them after it).")
flags.mark_flag_as_required("workdir")


def main(argv):
    compare = list(_COMPARE.value or [])
    if len(argv) > 1 and not compare:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    compare += argv[1:]  # --compare A B: absl leaves B as an argument
    try:
        path = report.write_report(_WORKDIR.value, compare)
    except errors.UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to continue", file=sys.stderr)
        raise SystemExit(130)
    print(path)


if __name__ == "__main__":
    app.run(main)
