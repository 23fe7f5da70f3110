"""A catalogue of bad inputs to `python -m tfprune.run` and `python -m export.tflite`:
each ends the run with one line that names the fix and exit code 2, and none harms an
existing workdir. A tiny finished run is checksummed once; after every case its files
must be unchanged and no file may have appeared. Cases that break a workdir on purpose
work on a copy, whose other files must stay unchanged too.

Cases about flags, entry points and the process (permissions, file size limit, a
diverging training) run `python -m ...` in a subprocess. The others fail past flag
parsing, in the pipeline: they run `cli.guarded(pipeline.run(...))` in this
process, with the overrides read as Python literals, which saves a TensorFlow start
(about 5 s of CPU) per case."""
import ast
import ctypes
import dataclasses
import glob
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, config_file
from tfprune import cli, evaluate, pipeline, storage

TINY = ["--config", "configs/quickstart.py", "--config.train.epochs=1",
        "--config.data.max_train_examples=256", "--config.prune.ratios=(0.3, 0.6)",
        "--config.prune.retrain_epochs=1", "--config.eval.corruptions=('contrast',)",
        "--config.eval.noise_images=0", "--config.eval.reference_network=False",
        # 1 epoch on 256 images: near chance
        "--config.eval.stop_at_chance_parent=False", "--config.eval.control_network=False"]
CIFAR_RECORD, CIFAR_RECORDS = 3073, 10000


def _run(module, args, preexec_fn=None):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, preexec_fn=preexec_fn)


def _run_in_process(args, capsys):
    """`python -m tfprune.run` on the quickstart config past its flag parsing: returns
    the exit code and what went to stderr."""
    config, workdir = config_file("quickstart")(), None
    for argument in args:
        if argument.startswith("--workdir="):
            workdir = argument[len("--workdir="):]
        elif argument.startswith("--config."):
            key, _, text = argument[len("--config."):].partition("=")
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
            section, name = key.split(".")
            config[section][name] = value
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.guarded(lambda: pipeline.run(config, workdir, log=lambda _: None))
    return exited.value.code, capsys.readouterr().err


def _checksums(folder):
    sums = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as stream:
                sums[os.path.relpath(path, folder)] = hashlib.sha256(stream.read()).hexdigest()
    return sums


def _cifar_records(count, rng, label=None):
    records = rng.integers(0, 256, (count, CIFAR_RECORD), dtype=np.uint8)
    records[:, 0] = rng.integers(0, 10, count) if label is None else label
    return records.tobytes()


@dataclasses.dataclass
class Invocation:
    args: list
    module: str = "tfprune.run"
    cli: bool = True  # a subprocess; else in this process, past flag parsing
    preexec_fn: object = None
    copy: str = None  # a copy of the finished run that the case broke on purpose
    broken: tuple = ()  # its files that the case changed
    after: object = None  # undoes what the case did outside the copy


class Context:
    """The finished run, its checksums, and scratch space for each case."""

    def __init__(self, finished, scratch):
        self.finished, self.scratch = finished, scratch
        self.sums = _checksums(finished)
        self.count = 0
        rng = np.random.default_rng(0)
        self.cifar_files = {}
        for name in ("data_batch_1.bin", "test_batch.bin"):
            path = self.cifar_files[name] = os.path.join(scratch, "cifar-valid", name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as stream:
                stream.write(_cifar_records(CIFAR_RECORDS, rng))

    def new_path(self, name):
        self.count += 1
        return os.path.join(self.scratch, f"{self.count:02d}-{name}")

    def on_finished(self, *overrides, cli=False):
        return Invocation([*TINY, *overrides, f"--workdir={self.finished}"], cli=cli)

    def fresh(self, *overrides, cli=False):
        return Invocation([*TINY, *overrides, f"--workdir={self.new_path('run')}"], cli=cli)

    def copy(self):
        path = self.new_path("copy")
        shutil.copytree(self.finished, path)
        return path

    def cifar(self, **files):
        """A CIFAR-10 binary folder: the valid files, with `files` (name: bytes, or None
        for missing) in their place."""
        folder = self.new_path("cifar")
        os.makedirs(folder)
        for name, valid in self.cifar_files.items():
            if name not in files:
                os.symlink(valid, os.path.join(folder, name))
        for name, content in files.items():
            if content is not None:
                with open(os.path.join(folder, name), "wb") as stream:
                    stream.write(content)
        return self.fresh("--config.data.name=cifar10", f"--config.data.dir={folder}")


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    scratch = str(tmp_path_factory.mktemp("bad_inputs"))
    finished = os.path.join(scratch, "finished")
    result = _run("tfprune.run", [*TINY, f"--workdir={finished}"])
    assert result.returncode == 0, result.stderr[-3000:]
    return Context(finished, scratch)


def _rerun_copy(ctx, module="tfprune.run", cli=False):
    """The finished run's command (or the export CLI) on a copy of its workdir."""
    copy = ctx.copy()
    if module == "export.tflite":
        return Invocation([f"--workdir={copy}"], module=module, copy=copy)
    return Invocation([*TINY, f"--workdir={copy}"], cli=cli, copy=copy)


def _rerun_broken(ctx, relative, content, module="tfprune.run"):
    """As `_rerun_copy`, with the copy's file `relative` (a glob) overwritten by `content`."""
    invocation = _rerun_copy(ctx, module)
    path, = glob.glob(os.path.join(invocation.copy, relative))
    with open(path, "wb") as stream:
        stream.write(content)
    invocation.broken = (os.path.relpath(path, invocation.copy),)
    return invocation


def _config_record(ctx, change):
    """The finished run's config.json with `change(record)` applied, as bytes."""
    with open(os.path.join(ctx.finished, "config.json")) as stream:
        record = json.load(stream)
    change(record)
    return json.dumps(record).encode()


def _typo_config_file(ctx):
    path = ctx.new_path("typo_config.py")
    with open(path, "w") as stream:
        stream.write("from tfprune import config as config_lib\n\n\ndef get_config():\n"
                     "    config = config_lib.base()\n    config.train.epoch = 3\n"
                     "    return config\n")
    return Invocation(["--config", path, f"--workdir={ctx.finished}"])


def _without_write_permission():
    """In the child: root writes anywhere; dropping CAP_DAC_OVERRIDE from the bounding set
    (prctl PR_CAPBSET_DROP) makes it obey the permission bits after exec."""
    if os.geteuid() == 0:
        pr_capbset_drop, cap_dac_override = 24, 1
        if ctypes.CDLL(None, use_errno=True).prctl(pr_capbset_drop, cap_dac_override, 0, 0, 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _read_only_finished(ctx):
    def set_mode(mode):
        for directory, _, _ in os.walk(ctx.finished):
            os.chmod(directory, mode)
    set_mode(0o555)
    return Invocation([*TINY, f"--workdir={ctx.finished}"], preexec_fn=_without_write_permission,
                      after=lambda: set_mode(0o755))


def _file_size_limit(limit):
    """In the child: files may not grow past `limit` bytes, as on a full disk; the write
    fails with EFBIG instead of the default SIGXFSZ kill."""
    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limited


def _full_disk_on_copy(ctx):
    invocation = _rerun_copy(ctx, cli=True)
    invocation.preexec_fn = _file_size_limit(os.path.getsize(
        os.path.join(ctx.finished, "results.json")) // 2)
    return invocation


def _full_disk_fresh(ctx):
    invocation = ctx.fresh(cli=True)
    invocation.preexec_fn = _file_size_limit(64 * 1024)
    return invocation


def _workdir_is_a_file(ctx):
    path = ctx.new_path("a_file")
    open(path, "w").close()
    return Invocation([*TINY, f"--workdir={path}"], cli=False)


def _export_on_empty_folder(ctx):
    path = ctx.new_path("empty")
    os.makedirs(path)
    return Invocation([f"--workdir={path}"], module="export.tflite")


def _config_file(ctx, name, source):
    path = os.path.join(ctx.new_path("config"), name)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as stream:
        stream.write(source)
    return Invocation(["--config", path, f"--workdir={ctx.finished}"])


def _without_read_permission():
    """In the child: as _without_write_permission, and without CAP_DAC_READ_SEARCH, so that
    root obeys a file's missing read permission too."""
    _without_write_permission()
    if os.geteuid() == 0:
        pr_capbset_drop, cap_dac_read_search = 24, 2
        if ctypes.CDLL(None, use_errno=True).prctl(pr_capbset_drop, cap_dac_read_search, 0, 0,
                                                   0):
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _unreadable_cifar_file(ctx):
    invocation = ctx.cifar(**{"test_batch.bin": _records(CIFAR_RECORDS)})
    invocation.cli, invocation.preexec_fn = True, _without_read_permission
    folder = invocation.args[-2].split("=", 1)[1]
    os.chmod(os.path.join(folder, "test_batch.bin"), 0)
    return invocation


def _cifar_file_is_a_folder(ctx):
    invocation = ctx.cifar(**{"test_batch.bin": None})
    os.makedirs(os.path.join(invocation.args[-2].split("=", 1)[1], "test_batch.bin"))
    return invocation


def _export_unfinished(ctx):
    invocation = _rerun_copy(ctx, module="export.tflite")
    broken = glob.glob(os.path.join(invocation.copy, "checkpoints", "wt", "cycle_02.*"))
    for path in broken:
        os.remove(path)
    invocation.broken = tuple(os.path.relpath(p, invocation.copy) for p in broken)
    return invocation


def _bundle_into_a_folder(ctx):
    folder = ctx.new_path("kit_folder")
    os.makedirs(folder)
    return Invocation([f"--workdir={ctx.finished}", f"--out={folder}"], module="export.bundle")


def _locked_copy(ctx, *flags):
    """The finished run's command on a copy whose lock another process holds."""
    invocation = _rerun_copy(ctx, cli=True)
    invocation.args += list(flags)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tfprune import lock\n"
         f"with lock.held({invocation.copy!r}, 'a test holder'):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    invocation.broken = tuple(os.path.relpath(p, invocation.copy) for p in glob.glob(
        os.path.join(invocation.copy, "lock", "holder-*.json")))  # the holder's, removed

    def release():
        holder.stdin.close()
        holder.wait(timeout=60)
        assert not glob.glob(f"{invocation.copy}.old-*")  # --fresh moved nothing
    invocation.after = release
    return invocation


def _records(count, **kwargs):
    return _cifar_records(count, np.random.default_rng(1), **kwargs)


UNWRITABLE = "free disk space or make the folder writable, then rerun the same command"
CASES = [
    # Flags and config files (subprocesses, on the finished run's workdir).
    ("typo_in_key", lambda c: c.on_finished("--config.train.epoch=2", cli=True),
     "--config.train.epoch: unknown key; did you mean train.epochs?"),
    ("typo_in_section", lambda c: c.on_finished("--config.trian.lr=0.1", cli=True),
     "--config.trian.lr: unknown key; did you mean train?"),
    ("typo_in_config_file", _typo_config_file,
     'Key "epoch" does not exist and cannot be added since the config is locked. '
     'Did you mean "epochs"'),
    ("missing_config_file",
     lambda c: Invocation(["--config", "configs/nope.py", f"--workdir={c.finished}"]),
     "No such file or directory: 'configs/nope.py'"),
    ("config_file_raises",
     lambda c: _config_file(c, "raises.py", "def get_config():\n    raise RuntimeError('boom')\n"),
     "raises.py: RuntimeError: boom (raises.py, line 2); fix the config file"),
    ("config_file_syntax_error",
     lambda c: _config_file(c, "syntax.py", "def get_config(:\n    pass\n"),
     "SyntaxError: invalid syntax ("),
    ("config_file_returns_a_dict",
     lambda c: _config_file(c, "dict.py", "def get_config():\n    return dict(seed=0)\n"),
     "get_config() returned dict, not a ConfigDict; return the config of tfprune.config.base()"),
    ("config_argument_unknown",
     lambda c: Invocation(["--config=configs/study.py:resnet21", f"--workdir={c.finished}"]),
     "error: configs/study.py: unknown network 'resnet21'; allowed: resnet20, resnet56"),
    ("missing_config_flag", lambda c: Invocation([f"--workdir={c.finished}"]),
     "Flag --config must have a value other than None"),
    ("stray_argument", lambda c: Invocation([*TINY, f"--workdir={c.finished}", "now"]),
     "unexpected arguments: now"),
    ("string_for_int", lambda c: c.on_finished("--config.train.epochs=many", cli=True),
     "flag --config.train.epochs=many: invalid literal for int()"),
    ("string_for_numbers", lambda c: c.on_finished("--config.train.lr_milestones=soon", cli=True),
     "config.train.lr_milestones: 'soon' in ("),
    # Wrong types and values out of range that parse (in this process).
    ("number_for_names", lambda c: c.on_finished("--config.prune.spacing=(3,)"),
     "config.prune.spacing: 3 in (3,) is not a string"),
    ("negative_ratio", lambda c: c.on_finished("--config.prune.ratios=(-0.1, 0.5)"),
     "config.prune.ratios: -0.1 is out of range; allowed: [0, 1)"),
    ("momentum_above_one", lambda c: c.on_finished("--config.train.momentum=1.5"),
     "config.train.momentum: 1.5 is out of range; allowed: [0, 1]"),
    ("empty_method_list", lambda c: c.on_finished("--config.prune.methods=,"),
     "config.prune.methods: is empty; allowed: ft, gmp, m_by_n, pfp, sipp, wt"),
    # Unknown names.
    ("unknown_model", lambda c: c.on_finished("--config.model.name=resnet200"),
     "config.model.name: unknown name 'resnet200'; allowed: "),
    ("unknown_data_set", lambda c: c.on_finished("--config.data.name=mnist"),
     "config.data.name: unknown name 'mnist'; allowed: cifar10, digits"),
    ("unknown_corruption", lambda c: c.on_finished("--config.eval.corruptions=('smog',)"),
     "config.eval.corruptions: unknown name 'smog'"),
    ("unknown_extra_corruption",
     lambda c: c.on_finished("--config.eval.extra_corruptions=('fog_7',)"),
     "config.eval.extra_corruptions: cannot read 'fog_7'"),
    ("unknown_method", lambda c: c.on_finished("--config.prune.method=l1"),
     "config.prune.method: unknown name 'l1'"),
    ("unknown_shift", lambda c: c.on_finished("--config.eval.shifts=('cifar10_2',)"),
     "config.eval.shifts: unknown name 'cifar10_2'"),
    # Data files.
    ("cifar_folder_missing",
     lambda c: c.fresh("--config.data.name=cifar10", "--config.data.dir=/nonexistent/cifar"),
     "data.dir='/nonexistent/cifar' is not a folder"),
    ("cifar_test_file_missing", lambda c: c.cifar(**{"test_batch.bin": None}),
     "lacks data_batch_*.bin or test_batch.bin"),
    ("cifar_file_truncated",
     lambda c: c.cifar(**{"data_batch_1.bin": _records(CIFAR_RECORDS)[:-1000]}),
     "data_batch_1.bin: 30729000 bytes is not a whole number of CIFAR-10 records"),
    ("cifar_file_empty", lambda c: c.cifar(**{"test_batch.bin": b""}),
     "test_batch.bin: 0 bytes is not a whole number of CIFAR-10 records"),
    ("cifar_file_of_wrong_size", lambda c: c.cifar(**{"data_batch_1.bin": _records(5000)}),
     "data_batch_1.bin: 5000 records; an official CIFAR-10 binary file holds 10000"),
    ("cifar_file_with_foreign_labels",
     lambda c: c.cifar(**{"test_batch.bin": _records(CIFAR_RECORDS, label=57)}),
     "test_batch.bin: label 57 is not a CIFAR-10 class"),
    ("cifar_file_is_a_folder", _cifar_file_is_a_folder,
     "test_batch.bin: cannot read it (Is a directory); make it a readable file"),
    ("cifar_file_unreadable", _unreadable_cifar_file,
     "test_batch.bin: cannot read it (Permission denied); make it a readable file"),
    # A run's stored files.
    ("truncated_cycle_checkpoint",
     lambda c: _rerun_broken(c, "checkpoints/wt/cycle_01.keras", open(os.path.join(
         c.finished, "checkpoints/wt/cycle_01.keras"), "rb").read()[:2000]),
     "cycle_01.keras cannot be loaded"),
    ("empty_parent_checkpoint", lambda c: _rerun_broken(c, "checkpoints/parent.keras", b""),
     "parent.keras cannot be loaded"),
    ("unreadable_config_record", lambda c: _rerun_broken(c, "config.json", b"{not json"),
     "config.json is unreadable"),
    ("workdir_of_another_version",
     lambda c: _rerun_broken(c, "config.json", _config_record(
         c, lambda r: r.update(format_version=99))),
     "holds a run of another tfprune version (workdir format 99"),
    ("workdir_of_another_version_export_cli",
     lambda c: _rerun_broken(c, "config.json", _config_record(
         c, lambda r: r.update(format_version=99)), module="export.tflite"),
     "holds a run of another tfprune version (workdir format 99"),
    ("other_training_config", lambda c: c.on_finished("--config.train.lr=0.05"),
     "holds a run with other settings (train.lr); use a new --workdir, --fresh"),
    ("export_cli_on_a_folder_without_run", _export_on_empty_folder,
     "config.json is missing; --workdir must be a tfprune.run workdir"),
    ("workdir_is_a_file", _workdir_is_a_file, "is a file; choose a folder"),
    ("export_cli_on_an_unfinished_run", _export_unfinished,
     "holds an unfinished run (it lacks wt-02); finish it first with the "
     "tfprune.run command that started it"),
    ("bundle_out_is_a_folder", _bundle_into_a_folder,
     "is a folder; name the kit file to write, e.g. --out="),
    # A workdir another process holds (tfprune.lock).
    ("second_run_on_a_locked_workdir", _locked_copy, "is in use by pid "),
    ("fresh_on_a_locked_workdir", lambda c: _locked_copy(c, "--fresh"), "(a test holder)"),
    # The workdir's disk (subprocesses with fewer rights, or a file size limit).
    ("read_only_workdir", _read_only_finished, f"config.json (Permission denied); {UNWRITABLE}"),
    ("full_disk_on_rerun", _full_disk_on_copy, UNWRITABLE),
    ("full_disk_on_new_run", _full_disk_fresh, UNWRITABLE),
    # Training that diverges (subprocesses): the message names the stage.
    ("nan_loss_in_parent",
     lambda c: c.fresh("--config.train.lr=1e30", "--config.train.warmup_epochs=0",
                       "--config.export.tflite=False", cli=True),
     "parent: the loss became NaN or infinite; lower train.lr (now 1e+30)"),
    ("nan_loss_in_cycle",
     lambda c: c.fresh("--config.train.epochs=0", "--config.train.lr=1e30",
                       "--config.train.warmup_epochs=0", "--config.export.tflite=False",
                       cli=True),
     "wt cycle 1 (prune ratio 0.300): the loss became NaN or infinite"),
]


@pytest.mark.parametrize("build, expected", [pytest.param(b, e, id=i) for i, b, e in CASES])
def test_bad_input_ends_in_one_line_and_harms_no_workdir(context, build, expected, capsys):
    invocation = build(context)
    copy_sums = _checksums(invocation.copy) if invocation.copy else {}
    try:
        if invocation.cli:
            result = _run(invocation.module, invocation.args, invocation.preexec_fn)
            code, stderr = result.returncode, result.stderr
        else:
            code, stderr = _run_in_process(invocation.args, capsys)
    finally:
        if invocation.after:
            invocation.after()
    assert code == 2, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and expected in last, stderr[-3000:]
    if not invocation.cli:
        assert stderr.strip() == last  # nothing else on stderr
    assert _checksums(context.finished) == context.sums
    if invocation.copy:
        after = _checksums(invocation.copy)
        for path, checksum in copy_sums.items():
            if path not in invocation.broken:
                assert after.get(path) == checksum, f"{path} changed"
        assert not [p for p in after if os.path.basename(p).startswith(".tmp-")]


def test_catalogue_has_at_least_25_cases():
    assert len(CASES) >= 25


def test_fresh_moves_the_old_run_aside_and_starts_over(context):
    copy = context.copy()
    result = _run("tfprune.run", [*TINY, "--config.train.lr=0.05", "--config.export.tflite=False",
                                  "--config.prune.retrain_epochs=0", f"--workdir={copy}",
                                  "--fresh"])
    assert result.returncode == 0, result.stderr[-3000:]
    moved, = glob.glob(f"{copy}.old-*")
    assert f"--fresh: moved the old {copy} to {moved}" in result.stdout
    assert _checksums(moved) == context.sums  # the old run, whole
    with open(os.path.join(copy, "config.json")) as stream:
        assert json.load(stream)["train"]["lr"] == 0.05
    with open(os.path.join(copy, "results.json")) as stream:
        assert len(json.load(stream)["methods"]["wt"]["cycles"]) == 2


def _python_files():
    return sorted(glob.glob(os.path.join(ROOT, "tfprune", "*.py"))
                  + glob.glob(os.path.join(ROOT, "export", "*.py")))


def test_no_code_path_can_unpickle_a_data_file():
    """No pickle-based loader is imported, every numpy.load refuses pickles, and Keras
    loads models in its default safe mode."""
    pickling_modules = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve"}
    for path in _python_files():
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = {a.name.split(".")[0] for a in node.names}
                if isinstance(node, ast.ImportFrom) and node.module:
                    names.add(node.module.split(".")[0])
                assert not names & pickling_modules, f"{path}:{node.lineno} imports {names}"
            assert not (isinstance(node, ast.Attribute) and node.attr == "read_pickle"), path
            assert not (isinstance(node, ast.keyword) and node.arg == "safe_mode"), (
                f"{path}: Keras' safe_mode keeps lambdas (marshalled code) out of loading")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "load" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("np", "numpy")):
                refuses = [k for k in node.keywords if k.arg == "allow_pickle"
                           and isinstance(k.value, ast.Constant) and k.value.value is False]
                assert refuses, f"{path}:{node.lineno}: numpy.load without allow_pickle=False"


class _Payload:
    """Unpickling this creates `marker`: proof that a loader unpickled the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_planted_pickles_in_a_workdir_are_never_unpickled(tmp_path):
    marker = str(tmp_path / "unpickled")
    payload = np.array([_Payload(marker)], dtype=object)
    cache = str(tmp_path / "cache.npy")
    np.save(cache, payload, allow_pickle=True)
    predictions = str(tmp_path / "predictions.npz")
    np.savez(predictions, **{"nominal:pred": payload})
    assert storage.load_array(cache, (1,), object) is None
    assert storage.load_arrays(predictions, ["nominal:pred"]) is None
    recomputed = evaluate.cached_outputs(
        predictions, lambda: {"nominal:pred": np.zeros(3, np.int32)}, ["nominal:pred"], {},
        log=lambda _: None)
    assert recomputed["nominal:pred"].tolist() == [0, 0, 0]
    assert not os.path.exists(marker)
    np.load(cache, allow_pickle=True)  # the control: a pickle-loading reader trips it
    assert os.path.exists(marker)
