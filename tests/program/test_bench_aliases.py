"""program/aliases.py: dropping azure-native's API-version aliases changes nothing else.

Both default stacks run with and without the transformation; every registration must be the
same, and the aliases removed must be exactly the versioned variants of each resource's own type.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

import program.aliases
from erdr import simulate as simulate_module
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import load_stack
from program.aliases import is_api_version_alias

VNET = "azure-native:network:VirtualNetwork"


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        (pulumi.Alias(type_="azure-native:network/v20230201:VirtualNetwork"), True),
        (pulumi.Alias(type_="azure-native:network/v20150501preview:VirtualNetwork"), True),
        (pulumi.Alias(type_="azure-native:network/v20230201:Subnet"), False),  # another resource
        (pulumi.Alias(type_="azure-native:compute/v20230201:VirtualNetwork"), False),  # another module
        (pulumi.Alias(type_="azure-native:network:VirtualNetwork"), False),  # not versioned
        (pulumi.Alias(type_="azure-native:network/latest:VirtualNetwork"), False),
        (pulumi.Alias(type_="azure-native:network/v20230201:VirtualNetwork", name="old"), False),  # a rename
        (pulumi.Alias(type_="azure-native:network/v20230201:VirtualNetwork", parent=None), False),
        (pulumi.Alias(name="old"), False),
        ("urn:pulumi:prod::expressroute-dr::azure-native:network/v20230201:VirtualNetwork::hub-vnet", False),
    ],
)
def test_which_aliases_are_dropped(alias: object, expected: bool) -> None:
    assert is_api_version_alias(alias, VNET) is expected


def _run(stack: str, monkeypatch: pytest.MonkeyPatch, *, drop: bool) -> tuple[SimResult, dict[str, list[Any]]]:
    sent: dict[str, list[Any]] = {}
    base = simulate_module._RecordingMonitor.RegisterResource  # pyright: ignore[reportPrivateUsage]

    def record(self: Any, request: Any) -> Any:
        response = base(self, request)
        sent[response.urn] = list(request.aliases)
        return response

    with monkeypatch.context() as m:
        m.setattr(simulate_module._RecordingMonitor, "RegisterResource", record)  # pyright: ignore[reportPrivateUsage]
        if not drop:
            m.setattr(program.aliases, "drop_api_version_aliases", lambda _args: None)
        result = simulate(load_stack(stack))
    assert result.error is None
    return result, sent


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_dropping_changes_no_registration(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kept, kept_aliases = _run(stack, monkeypatch, drop=False)
    dropped, dropped_aliases = _run(stack, monkeypatch, drop=True)

    def view(result: SimResult) -> list[tuple[Any, ...]]:
        return [
            (
                *(r.urn, r.type, r.parent, r.inputs, sorted(r.dependencies), r.property_dependencies),
                *(r.protect, r.delete_before_replace, r.import_id, r.custom_timeouts, r.ignore_changes),
            )
            for r in sorted(result.resources, key=lambda r: r.urn)  # registration order is the loop's
        ]

    assert view(dropped) == view(kept)
    assert dropped.outputs == kept.outputs
    azure = [r for r in kept.resources if r.custom and r.type.startswith("azure-native:")]
    assert azure
    for r in azure:
        module, name = r.type.split(":")[1:]
        before = kept_aliases[r.urn]
        assert before, f"{r.urn}: azure-native sent no aliases (has it stopped adding them?)"
        # Today every alias azure-native adds is an API-version one, so none is left.
        assert dropped_aliases[r.urn] == []
        for alias in before:
            spec = alias.spec
            assert alias.urn == "" and spec.name == "" and spec.stack == "" and spec.project == ""
            assert not spec.parentUrn and not spec.noParent
            prefix, _, suffix = spec.type.partition("/")
            assert prefix == f"azure-native:{module}" and suffix.endswith(f":{name}") and suffix.startswith("v2")
