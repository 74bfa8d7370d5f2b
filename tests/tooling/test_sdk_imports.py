"""The project reaches azure-native classes through their namespace package
(``from pulumi_azure_native import network`` then ``network.VirtualNetwork``), never by importing a
namespace's defining module (``pulumi_azure_native.network.virtual_network``).

Why: azure-native's namespace packages are lazy modules (``_utilities.lazy_import``, importlib's
LazyLoader). Importing a defining module before its package has loaded runs the package's
``__init__`` midway through that import, and the package ends up without the class that module
defines. Everything that looks a class up on its package then misses it: the offline engine view
(``erdr.engine_view.resource_class``), the program's own ``network.VirtualNetworkGateway`` in a
later step of the same process, and Pulumi's resource-module registry when it rehydrates a
resource reference (``_utilities`` ``getattr(lazy_import(fqn), class_name)``).

It would make pyright cheaper (it parses a whole namespace to resolve one name through the
package's ``from .xxx import *`` lines): 1,697 -> 1,275 files parsed, ~2 s of ~36 s CPU, because
reading an output property (``outputs.X``) makes pyright bind the namespace anyway.
``test_the_sdk_still_leaves_a_package_partial`` says when that trade becomes safe.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from erdr.stackfiles import PROJECT_DIR
from tests.helpers import clone_files

SDK = "pulumi_azure_native"


def _inside_a_namespace(module: str) -> bool:
    """``pulumi_azure_native.<namespace>.<module>``: a module of a lazy namespace package."""
    parts = module.split(".")
    return parts[0] == SDK and len(parts) >= 3


def offences(source: str, where: str) -> list[str]:
    """Static imports in ``source`` of a module inside an azure-native namespace package."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _inside_a_namespace(node.module):
                out.append(f"{where}:{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            out += [f"{where}:{node.lineno}: import {a.name}" for a in node.names if _inside_a_namespace(a.name)]
    return out


def test_no_project_module_imports_a_module_inside_an_azure_native_namespace() -> None:
    code = clone_files("*.py")
    # The project's own files, not the pack's installed venv (gitignored).
    assert "components/network.py" in code and not any(rel.startswith("policies/venv/") for rel in code), code[:5]
    found = [o for rel in code for o in offences((PROJECT_DIR / rel).read_text(), rel)]
    assert not found, (
        "reach azure-native classes through their namespace package "
        "(`from pulumi_azure_native import network`; network.VirtualNetwork):\n" + "\n".join(found)
    )


def test_the_scan_finds_each_module_import_and_passes_package_imports() -> None:
    """Control: each way of importing a namespace's module is found; package imports are not."""
    bad = "\n".join(
        [
            "from pulumi_azure_native.network.virtual_network import VirtualNetwork",
            "from pulumi_azure_native.storage._enums import BlobType",
            "import pulumi_azure_native.network.subnet as subnet",
            "import pulumi_azure_native.network.subnet",
            "def f():\n    from pulumi_azure_native.network.outputs import RouteTableResponse",
        ]
    )
    assert [o.split(":")[1] for o in offences(bad, "bad.py")] == ["1", "2", "3", "4", "6"]
    good = "\n".join(
        [
            "from pulumi_azure_native import network, resources",
            "import pulumi_azure_native as azure_native",
            "from pulumi_azure_native.network import VirtualNetwork",
            "import importlib",
            "m = importlib.import_module('pulumi_azure_native.network')",
            "from pulumi import Output",
        ]
    )
    assert offences(good, "good.py") == []


def test_the_sdk_still_leaves_a_package_partial() -> None:
    """The reason for the rule, in a fresh interpreter: a class imported from its defining module
    first is missing from its namespace package. When this fails (a new pulumi-azure-native or
    Python), imports from defining modules are safe and would save pyright work."""
    probe = (
        "from pulumi_azure_native.resources.resource_group import ResourceGroup\n"
        "import pulumi_azure_native.resources as package\n"
        "print(hasattr(package, 'ResourceGroup'), hasattr(package, 'Resource'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROJECT_DIR)
    assert done.stdout.split() == ["False", "True"], done.stdout + done.stderr
