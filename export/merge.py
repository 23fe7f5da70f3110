"""python -m export.merge --workdir RUN_DIR device_results.json [more_results.json ...]

Brings a device's results (export/runner.py) back into the run its kit was built from
(export.devices), and prints the prune potentials and speed-ups host against device.
"""
import sys

from absl import app, flags

from export import devices
from tfprune import cli, lock

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory the kit was built from.")
flags.mark_flag_as_required("workdir")


def main(argv):
    if len(argv) < 2:
        cli.fail("name the device results file(s): python -m export.merge --workdir RUN_DIR "
                 "device_results.json")

    def job():
        with lock.held(_WORKDIR.value, "export.merge", existing=True):  # it rewrites results.json
            devices.merge(_WORKDIR.value, argv[1:])

    cli.guarded(job)


if __name__ == "__main__":
    app.run(main, argv=sys.argv)
