"""The package's layering: a package imports only packages below it, and no modules import each other
in a loop. Every import counts, also those inside functions (a deferred import is still a dependency).

The layers, bottom first; packages on one layer are peers and do not import each other:
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "kerasbatch"

LAYERS = (
    ("_version", "errors"),
    ("store",),
    ("config",),                       # settings and their validation, TensorFlow-free
    ("data", "models", "optim"),
    ("noise",),
    ("callbacks",),
    ("training",),                     # one run
    ("reports",),
    ("learner", "studies"),            # many runs
    ("tuning",),
    ("export", "notebook"),
    ("cli",),
    ("__init__", "__main__"),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}

# Imported by ``kerasbatch --help`` or meant for TensorFlow-free use: none may import TensorFlow or Keras.
TENSORFLOW_FREE = ("kerasbatch", "kerasbatch.cli", "kerasbatch.config", "kerasbatch.store", "kerasbatch.errors",
                   "kerasbatch.noise.estimators", "kerasbatch.noise.window", "kerasbatch.learner.predict",
                   "kerasbatch.reports.tables", "kerasbatch.reports.text")


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports(path: Path, known: dict[str, Path], package: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of a module of the package in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == package]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == package:
            # ``from pkg import name``: the submodule ``name`` when there is one, else the package itself.
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known]
            found += [(node.lineno, s) for s in subs]
            if len(subs) < len(node.names):
                found.append((node.lineno, node.module))
    return found


def unit(module: str) -> str:
    """The layer unit of a module: the top-level package or module below ``kerasbatch``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(root: Path, layers: dict[str, int] = RANK) -> list[str]:
    """One line per upward or sideways import and per import cycle, naming the file and the import."""
    package = root.name
    known = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in known}
    out = []
    for module, path in known.items():
        where = path.relative_to(root.parent)
        for line, target in imports(path, known, package):
            if target not in known:
                out.append(f"{where}:{line} imports {target}, which does not exist")
                continue
            graph[module].add(target)
            mine, theirs = unit(module), unit(target)
            if mine == theirs:
                continue
            if mine not in layers or theirs not in layers:
                out.append(f"{where}:{line}: {mine if mine not in layers else theirs} is on no layer")
            elif layers[theirs] >= layers[mine]:
                how = "a peer" if layers[theirs] == layers[mine] else "a higher layer"
                out.append(f"{where}:{line} imports {target}: {mine} may not import {theirs} ({how})")
    out += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop through each strongly connected group of modules (Tarjan), as ``a -> b -> … -> a``."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph[v]:
                groups.append(_loop(graph, set(group)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def _loop(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for w in sorted(graph[path[-1]] & group):
            if w == start:
                return [*path, start]
            if w not in seen:
                seen.add(w)
                paths.append([*path, w])
    return [start, start]


def test_no_module_imports_upward_sideways_or_in_a_cycle():
    assert violations(ROOT) == []


def test_every_top_level_package_and_module_is_on_a_layer():
    units = {unit(m) for m in modules(ROOT)}
    assert units - set(RANK) == set()


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "kerasbatch"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_check_names_an_upward_import_with_its_file_and_line(tmp_path):
    root = _tree(tmp_path, {"config/__init__.py": "", "config/run.py": "import os\n\ndef f():\n"
                            "    from kerasbatch.training import train\n",
                            "training/__init__.py": "", "training/train.py": "import os\n"})
    assert violations(root) == ["kerasbatch/config/run.py:4 imports kerasbatch.training.train: "
                                "config may not import training (a higher layer)"]


def test_the_check_names_a_peer_import_and_a_cycle(tmp_path):
    root = _tree(tmp_path, {"data/__init__.py": "", "data/a.py": "from kerasbatch.data import b\n",
                            "data/b.py": "from kerasbatch.data.a import x\n",
                            "models/__init__.py": "from kerasbatch.data import a\n"})
    assert violations(root) == [
        "kerasbatch/models/__init__.py:1 imports kerasbatch.data.a: models may not import data (a peer)",
        "import cycle: kerasbatch.data.a -> kerasbatch.data.b -> kerasbatch.data.a"]


def test_a_package_face_that_a_module_of_its_own_imports_back_is_a_cycle(tmp_path):
    root = _tree(tmp_path, {"noise/__init__.py": "from kerasbatch.noise.probe import measure\n",
                            "noise/probe.py": "from kerasbatch.noise import estimators, NoiseEstimate\n",
                            "noise/estimators.py": ""})
    assert violations(root) == ["import cycle: kerasbatch.noise -> kerasbatch.noise.probe -> kerasbatch.noise"]


def test_tensorflow_free_modules_import_no_tensorflow():
    # One process; imported in turn, so the first module that pulls TensorFlow in is the one named.
    code = ("import importlib, sys\n"
            f"for name in {TENSORFLOW_FREE!r}:\n"
            "    importlib.import_module(name)\n"
            "    if any(m.split('.')[0] in ('tensorflow', 'keras', 'keras_tuner') for m in sys.modules):\n"
            "        print(name)\n"
            "        break\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
