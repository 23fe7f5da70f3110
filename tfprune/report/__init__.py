"""report.md and its figures from a run's results.json alone: write_report(workdir).

Writes RUN_DIR/report.md and its figures (RUN_DIR/report/*.png), plus image 0 of each
cached corrupted test set (RUN_DIR/cache, or the run's eval.cache_dir) for the
corruption samples. It needs no TensorFlow: matplotlib (Agg), numpy and json only, so it
takes seconds; a tf.io.gfile run directory (gs://, ram://) is read and written through
tf.io.gfile (tfprune.storage).

`compare` overlays other runs (seeds, configs): line style per run, and, where several
runs share a method, their mean with a ± std band.

Tolerant by design within results.json: a method with few cycles, no TFLite entries, no
methods at all or missing optional keys (`groups`, `noise`, `ece`, export variants,
colours) give a report with notes, never an exception. A results.json that is missing or
unreadable (of this run or a compared one) is refused in one line (WorkdirError) with
nothing written. The figures and report.md are staged and published together, so a full
disk while drawing keeps the previous report whole and fails with a WorkdirError; the
last line of report.md records the SHA-256 of every results.json and figure it was built
from (an HTML comment), which tells a stale report.

reader reads results.json, plot holds what the figures share, figures/ has one module
per figure and their registry, markdown assembles report.md, staging publishes its files;
`python -m tfprune.report` is the command line (__main__).
"""
from tfprune.report.markdown import write_report

__all__ = ("write_report",)
