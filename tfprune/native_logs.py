"""TF_CPP_MIN_LOG_LEVEL=2 keeps TensorFlow's native INFO and WARNING lines out of the logs,
but its libraries print some while they load, before that setting applies (oneDNN's
notice, "Could not find cuda drivers", absl's own warning about it), and the GPU
platform's start logs "failed call to cuInit" on every machine without a CUDA driver.
So the first `import tensorflow` (wherever it happens: tfprune.report never imports
it) runs with the native stderr captured, and the captured lines are passed on after
the level is applied to them; an ERROR line stays, except cuInit's when the CUDA stub
has just said that no driver is installed.
"""
import contextlib
import importlib.abc
import logging
import importlib.util
import os
import re
import sys
import tempfile

# absl's native log line: severity letter, date, time, thread, file:line].
_NATIVE_LINE = re.compile(r"^(?P<severity>[IWEF])\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_SEVERITIES = "IWEF"  # TF_CPP_MIN_LOG_LEVEL 0..3 hides those before it
_PRE_INIT_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called"
_NO_DRIVER, _CUINIT = "Could not find cuda drivers on your machine", "failed call to cuInit"


def _kept(lines):
    """The captured native lines that TF_CPP_MIN_LOG_LEVEL lets through."""
    try:
        level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        level = 0
    no_driver = any(_NO_DRIVER in line for line in lines)
    for line in lines:
        match = _NATIVE_LINE.match(line)
        if match and _SEVERITIES.index(match["severity"]) < level:
            continue
        if (line.startswith(_PRE_INIT_NOTICE) and level > 0) or (no_driver and _CUINIT in line):
            continue
        yield line


@contextlib.contextmanager
def _native_stderr_filtered():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(_kept(lines)))
            sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run under the filter; it lists the devices at once, so
    that the GPU platform starts under the filter too (listing fixes no device setting)."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _native_stderr_filtered():
            self._loader.exec_module(module)
            module.config.list_physical_devices()

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, with its loader wrapped in _QuietLoader."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _not_retracing(record):
    """tf.function's retracing warning: each cycle's fresh network traces its own
    functions (Keras counts them per code, across networks), which is no fault here."""
    return "triggered tf.function retracing" not in record.getMessage()


def install():
    """Filter the first `import tensorflow` of this process (nothing if it happened), and
    tf.function's retracing warning."""
    logging.getLogger("tensorflow").addFilter(_not_retracing)
    if "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
