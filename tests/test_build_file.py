"""BUILD covers every module, test file and entry point (plain Python, no Bazel).

BUILD is Starlark, which for what it uses (calls, lists, comprehensions, string
methods) is Python: it is evaluated with each rule recorded and glob() done by
Python's glob, relative to the repository root.
"""
import ast
import builtins
import glob
import os

import pytest

from conftest import ROOT

BUILD = os.path.join(ROOT, "BUILD")
ENTRY_POINTS = ["tfprune/run.py", "export/tflite.py", "export/bundle.py", "export/merge.py",
                "tfprune/report/__main__.py", "tfprune/bench.py", "tfprune/profile.py"]


def _files(pattern):
    return set(glob.glob(pattern, root_dir=ROOT, recursive=True))


def _glob(include, exclude=(), **_):
    hits = set().union(*map(_files, include)) - set().union(*map(_files, exclude))
    return sorted(p for p in hits if os.path.isfile(os.path.join(ROOT, p)))


def evaluate(source):
    """Rules declared by BUILD source: a list of dicts with 'kind' and their attributes."""
    tree = ast.parse(source, BUILD)
    rules = []

    def recorder(kind):
        return lambda *args, **attrs: rules.append(dict(attrs, kind=kind))

    called = {n.func.id for n in ast.walk(tree)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    env = {name: recorder(name) for name in called if not hasattr(builtins, name)}
    env["glob"] = _glob
    exec(compile(tree, BUILD, "exec"), env)
    return rules


def uncovered(rules):
    """Modules, configs and test files that no rule lists, plus tests in != 1 py_test."""
    listed = {f for r in rules for key in ("srcs", "data") for f in r.get(key) or []}
    wanted = _files("tfprune/**/*.py") | _files("export/*.py") | _files("configs/*.py")
    missing = sorted(wanted - listed - {"tests/conftest.py"})
    if "tests/conftest.py" not in listed:
        missing.append("tests/conftest.py")
    for test in sorted(_files("tests/test_*.py")):
        owners = [r for r in rules if r["kind"] == "py_test" and test in r.get("srcs", [])]
        if len(owners) != 1:
            missing.append(f"{test} (in {len(owners)} py_test targets)")
    return missing


@pytest.fixture(scope="module")
def rules():
    if not os.path.exists(BUILD):
        pytest.skip("BUILD not visible (inside Bazel's runfiles only declared files exist)")
    with open(BUILD) as f:
        return evaluate(f.read())


def test_every_module_config_and_test_file_is_in_build(rules):
    assert uncovered(rules) == []


def test_each_binary_main_exists_and_every_entry_point_has_a_binary(rules):
    generated = {out: r for r in rules if r["kind"] == "genrule" for out in r["outs"]}
    binaries = {r["name"]: r for r in rules if r["kind"] == "py_binary"}
    for name, binary in binaries.items():
        main = binary.get("main", name + ".py")
        assert main in binary["srcs"], name
        assert main in generated or os.path.isfile(os.path.join(ROOT, main)), (name, main)
    for path in ENTRY_POINTS:
        if os.path.exists(os.path.join(ROOT, path)):
            module = path[:-3].replace("/", ".").removesuffix(".__main__")
            assert module in binaries, f"no py_binary for `python -m {module}`"
            main = binaries[module]["main"]
            assert main == path or f'"{module}"' in generated[main]["cmd"], (module, main)


def test_the_check_fails_when_build_stops_globbing_tests(rules):
    with open(BUILD) as f:
        source = f.read()
    assert 'glob(["tests/test_*.py"])' in source
    missing = uncovered(evaluate(source.replace('glob(["tests/test_*.py"])', "[]")))
    assert "tests/test_build_file.py (in 0 py_test targets)" in missing
