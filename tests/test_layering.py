"""The package reads bottom-up: parts import downwards only (no cycles between parts), and
library modules import in-package code at the top of the file (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inception_v4"

# Each part's layer: a module may import its own part and the parts of lower layers only.
LAYERS = {
    "_version": 0, "layers": 0, "tolerances": 0,
    "models": 1,
    "checkpoint": 2,
    "weights": 3, "inference": 3, "data": 3,
    "factory": 4, "evaluate": 4,
    "train": 5, "export": 5,
    "runtimes": 6,
    "experiments": 7, "bench": 7,
    "timm_compat": 8, "demo": 8, "cli": 8, "__init__": 8, "__main__": 9,
}
# Command-line modules may import lazily, for start-up time.
COMMAND_LINE = ("commands", "cli", "__main__", "demo")


def _module(path: Path, package: Path) -> tuple[str, ...]:
    return path.relative_to(package).with_suffix("").parts


def _target(node: ast.ImportFrom, module: tuple[str, ...], is_package: bool) -> str | None:
    """The in-package part an import names (None for a third-party import)."""
    if node.level == 0:
        name = node.module or ""
        if not name.startswith("inception_v4"):
            return None
        parts = name.split(".")[1:]
    else:
        base = list(module if is_package else module[:-1])
        base = base[: len(base) - (node.level - 1)]
        parts = base + (node.module.split(".") if node.module else [])
    if not parts:  # ``from . import x`` at the top level or ``from inception_v4 import x``
        names = [a.name for a in node.names]
        return names[0] if len(names) == 1 and names[0] in LAYERS else "__init__"
    return parts[0]


def imports(package: Path = PACKAGE) -> list[tuple[str, str, str, bool]]:
    """(module, its part, the part it imports, whether inside a function) for every import."""
    found = []
    for path in sorted(package.rglob("*.py")):
        module = _module(path, package)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lazy = {id(n) for f in ast.walk(tree)
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name.split(".")[1] for a in node.names
                           if a.name.startswith("inception_v4.")]
            elif isinstance(node, ast.ImportFrom):
                target = _target(node, module, path.name == "__init__.py")
                targets = [target] if target else []
            else:
                continue
            for target in targets:
                found.append((".".join(module), module[0], target, id(node) in lazy))
    return found


def layer(module: str, part: str) -> int:
    """A module's layer: its part's, except a part's ``commands`` module, which sits with
    ``cli`` (a command may use any library part, e.g. evaluate's ``--runtime`` the runtimes)."""
    return LAYERS["cli"] if module.endswith(".commands") else LAYERS[part]


def upward(package: Path = PACKAGE) -> list[str]:
    return [f"{module} ({part}) imports {target}" for module, part, target, _ in imports(package)
            if target != part and LAYERS[target] >= layer(module, part)]


def lazy(package: Path = PACKAGE) -> list[str]:
    return [f"{module} imports {target} inside a function"
            for module, _, target, inside in imports(package)
            if inside and module.rsplit(".", 1)[-1] not in COMMAND_LINE]


def test_every_part_has_a_layer() -> None:
    found = imports()
    parts = {part for _, part, _, _ in found} | {target for _, _, target, _ in found}
    assert parts <= set(LAYERS), f"parts without a layer: {sorted(parts - set(LAYERS))}"


def test_parts_import_downwards_only() -> None:
    wrong = upward()
    assert not wrong, "imports that go sideways or up:\n" + "\n".join(wrong)


def test_library_modules_import_at_the_top() -> None:
    found = lazy()
    assert not found, "lazy in-package imports in library modules:\n" + "\n".join(found)


def test_the_checks_catch_an_upward_import_and_a_lazy_one(tmp_path: Path) -> None:
    """On a tiny package made here: models importing train, and a lazy import in a library
    module, are both reported; the same lazy import in a commands module is allowed, and so
    is a commands module's import of a higher library part (evaluate's command: runtimes)."""
    for name, text in {
        "evaluate/commands.py": "from ..runtimes import on_runtime\n",
        "evaluate/loading.py": "from ..runtimes import on_runtime\n",
        "models/registry.py": "from ..train import fit\n",
        "models/network.py": "def f():\n    from .heads import Head\n",
        "models/commands.py": "def run():\n    from .registry import fit\n",
        "train/__init__.py": "from ..models import registry\n",
    }.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert upward(tmp_path) == ["evaluate.loading (evaluate) imports runtimes",
                                "models.registry (models) imports train"]
    assert lazy(tmp_path) == ["models.network imports models inside a function"]
