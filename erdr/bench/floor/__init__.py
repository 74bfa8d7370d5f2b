"""The evaluation-cost floor (erdr/bench/evaluation.py): a program's registrations as plain resources.

``SPEC`` is set by ``python -m erdr.bench.evaluation floor`` before the mock runtime runs
``__main__.py`` here, which calls :func:`register_floor`.
"""

from __future__ import annotations

import importlib
from typing import Any

import pulumi

SPEC: dict[str, Any] | None = None


def register_floor() -> None:
    """Import the program's azure-native modules, then register its resources as plain
    ``CustomResource``/``ComponentResource`` with the recorded types, names, parents, inputs and
    dependencies."""
    spec = SPEC
    if spec is None:
        raise RuntimeError("the floor program runs only inside `python -m erdr.bench.evaluation floor`")
    for name in spec["modules"]:
        # Reading an attribute makes a lazily registered package load, as the program's use does.
        getattr(importlib.import_module(name), "__all__", None)
    made: dict[str, pulumi.Resource] = {}
    for r in spec["resources"]:
        opts = pulumi.ResourceOptions(
            parent=made.get(r["parent"]),
            depends_on=[made[u] for u in r["dependencies"] if u in made],
        )
        if r["custom"]:
            made[r["urn"]] = pulumi.CustomResource(r["type"], r["name"], dict(r["inputs"]), opts)
        else:
            component = pulumi.ComponentResource(r["type"], r["name"], None, opts)
            component.register_outputs({})
            made[r["urn"]] = component
