"""Imports run one way: entry points -> orchestration -> export/report -> domain ->
foundation (docs/architecture.md). A module may import its own layer and those below,
never one above; there is no import circle; no module is over 500 lines; the device
runner imports neither TensorFlow nor tfprune."""
import ast
import glob
import os
import subprocess
import sys

import pytest

from conftest import ROOT

FOUNDATION, DOMAIN, EXPORT_REPORT, ORCHESTRATION, ENTRY = range(5)
LAYER_NAMES = ("foundation", "domain", "export/report", "orchestration", "entry point")
# Module (or package: its modules too) -> layer; the longest matching prefix decides.
LAYERS = {
    "tfprune": FOUNDATION, "tfprune.errors": FOUNDATION, "tfprune.storage": FOUNDATION,
    "tfprune.workdir": FOUNDATION, "tfprune.native_logs": FOUNDATION, "tfprune.lock": FOUNDATION,
    **{f"tfprune.{name}": DOMAIN for name in (
        "data", "image_sources", "corruptions", "distributions", "models", "train", "strategy",
        "wrappers", "channels", "structure", "sensitivity", "methods", "flops", "metrics",
        "evaluate", "results", "precision", "verdicts", "tables", "user_models")},
    "export": EXPORT_REPORT, "export.pqat": EXPORT_REPORT, "tfprune.report": EXPORT_REPORT,
    **{f"tfprune.{name}": ORCHESTRATION for name in (
        "config", "study", "pipeline", "cascade", "sweep", "cli", "api")},
    "export.kit": ORCHESTRATION,
    **{name: ENTRY for name in (
        "tfprune.run", "tfprune.report.__main__", "tfprune.bench", "tfprune.profile",
        "tfprune.compare", "export.tflite", "export.bundle", "export.merge")},
}
DEVICE_MODULES = ("export/runner.py", "export/litert.py")
MAX_LINES = 500


def _modules():
    """{module name: path} of every module of tfprune/ and export/."""
    found = {}
    for path in glob.glob("tfprune/**/*.py", root_dir=ROOT, recursive=True) + glob.glob(
            "export/*.py", root_dir=ROOT):
        name = path[:-3].replace("/", ".").removesuffix(".__init__")
        found[name] = path
    return found


def _layer(module):
    owner = max((prefix for prefix in LAYERS
                 if module == prefix or module.startswith(prefix + ".")), key=len, default=None)
    return None if owner is None else LAYERS[owner]


def _imports(path, modules):
    """[(line, imported module of ours, at module level?)] of a file, resolving
    `from package import module` to the module where there is one."""
    with open(os.path.join(ROOT, path)) as stream:
        tree = ast.parse(stream.read(), path)
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                     else node.module for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.append((node.lineno, name, id(node) in top_level))
    return found


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return modules, {name: _imports(path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer(graph):
    modules, _ = graph
    assert [m for m in modules if _layer(m) is None] == []


def test_no_module_imports_a_higher_layer(graph):
    modules, imports = graph
    upward = [f"{modules[m]}:{line} ({LAYER_NAMES[_layer(m)]}) imports {other} "
              f"({LAYER_NAMES[_layer(other)]})"
              for m, found in imports.items() for line, other, _ in found
              if _layer(other) > _layer(m)]
    assert upward == []


def test_imports_of_our_modules_are_at_module_level(graph):
    """A function-level import is how a circle hides; ours are all at the top."""
    modules, imports = graph
    hidden = [f"{modules[m]}:{line} imports {other} inside a function"
              for m, found in imports.items() for line, other, top in found
              if not top and other != m]
    assert hidden == []


def _cycles(edges):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return components


def test_there_is_no_import_circle(graph):
    _, imports = graph
    edges = {m: sorted({other for _, other, _ in found if other != m})
             for m, found in imports.items()}
    assert _cycles(edges) == []
    assert _cycles(dict(edges, **{"tfprune.errors": ["tfprune.workdir"]})) != []  # the check bites


def test_no_module_is_over_500_lines(graph):
    modules, _ = graph
    long = {}
    for path in modules.values():
        with open(os.path.join(ROOT, path)) as stream:
            count = len(stream.readlines())
        if count > MAX_LINES:
            long[path] = count
    assert long == {}


@pytest.mark.parametrize("path", DEVICE_MODULES)
def test_the_device_runner_imports_neither_tensorflow_nor_tfprune(path):
    with open(os.path.join(ROOT, path)) as stream:
        tree = ast.parse(stream.read(), path)
    names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    assert not names & {"tensorflow", "tfprune", "export", "keras", "tf_keras"}


def test_importing_the_device_runner_loads_neither_tensorflow_nor_tfprune():
    """What a device does (the kit's runner.py loads litert.py beside it), and what the
    host's import of export.runner does: no TensorFlow, no tfprune in the process."""
    code = ("import sys, export.runner, export.litert; "
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tfprune')]; "
            "print(loaded)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
