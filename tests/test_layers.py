"""The package's layers, as a failure: a module imports (at run time, outside functions and
TYPE_CHECKING blocks) only from its own layer or the layers below it. README's Layout lists
them; this is that list, bottom first."""

from __future__ import annotations

import ast
from pathlib import Path

import firmproof

LAYERS = [
    {"model", "config"},          # the contract's vocabulary and the limits
    {"host"},                     # the machine: external tools, doctor, children
    {"fs"},                       # a file system as analyzers see it
    {"unpack"},                   # image → layers
    {"device"},                   # what the device holds, read
    {"analyzers"},                # the rule families
    {"report"},                   # the typed Report and its writers
    {"scan"},                     # unpack → index → analyze → report
    {"evidence"},                 # verify, sign, diff (they read and make reports)
    {"store"},                    # the results store
    {"batch"},                    # many scans into the store
    {"cli", "testing", "web"},    # verbs; images for tests and the demo; the web app
]
# report.coverage is the record of what was searched: the unpacking layer fills it in
UPWARD = {("unpack", "report.coverage")}


def rank(layer: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if layer in names)


def runtime_imports(path: Path) -> list[str]:
    """Dotted names under firmproof imported by the module's top-level statements."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("firmproof."):
            found.append(node.module.removeprefix("firmproof."))
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
            found += [n.removeprefix("firmproof.") for n in names if n.startswith("firmproof.")]
    return found


def test_every_top_level_name_has_a_layer():
    top = Path(firmproof.__file__).parent
    packages = {p.name for p in top.iterdir() if (p / "__init__.py").exists()}
    names = {p.stem for p in top.glob("*.py")} | packages
    assert names - {"__init__"} == set().union(*LAYERS)


def test_modules_import_only_from_their_layer_or_below():
    top = Path(firmproof.__file__).parent
    wrong = []
    for path in sorted(top.rglob("*.py")):
        layer = path.relative_to(top).parts[0].removesuffix(".py")
        if layer == "__init__":
            continue
        for name in runtime_imports(path):
            other = name.split(".")[0]
            if rank(other) > rank(layer) and (layer, name) not in UPWARD:
                wrong.append(f"{path.relative_to(top)} imports firmproof.{name}")
    assert not wrong, "\n".join(wrong)
