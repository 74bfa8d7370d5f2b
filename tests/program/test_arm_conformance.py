"""Conformance oracle: every resource the program registers, in every example, stack and phase
(dr with a recovery plan), is mapped to the ARM request azure-native would send and checked
against Microsoft's generated SDK for that service and API version (tests/arm_oracle.py): no
property the model lacks, no read-only one, every required one, enum values the model knows, and
only operations the service has (no DELETE where there is none unless the resource is retained).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest

from erdr.simulate import Registration, SimResult, simulate
from erdr.stackfiles import load_stack
from model.config import Phase
from policies.shared import names as T
from tests import arm_oracle as oracle
from tests.helpers import EXAMPLES, NO_PEER_CONNECTIONS, RECOVERY_PLAN, run_stack

PLAN = RECOVERY_PLAN
PEERS = NO_PEER_CONNECTIONS
CASES = [(e.name, stack, phase) for e in EXAMPLES for stack in ("prod", "dr") for phase in Phase]


def simulate_case(example: str, stack: str, phase: Phase) -> SimResult:
    overrides: dict[str, Any] = {"phase": phase.value}
    if stack == "dr":
        overrides["recoveryPlan"] = PLAN
    settings = load_stack(
        stack, stack_file=Path(EXAMPLES[0].parent / example / f"Pulumi.{stack}.yaml"), overrides=overrides
    )
    result = simulate(settings, peer_outputs=PEERS)
    assert result.error is None, result.error
    return result


def assert_conforms(result: SimResult) -> set[str]:
    seen: set[str] = set()
    problems = [p for r in result.resources for p in oracle.conformance_problems(r, seen)]
    assert problems == [], "\n".join(problems)
    return seen


def assert_every_type_is_known(result: SimResult) -> None:
    """A new resource type must get a surface (or a reason) before the oracle can pass."""
    for r in result.resources:
        if not r.custom or r.type in oracle.NOT_ARM:
            continue
        kind, _ = oracle._concrete_path(r)
        assert kind in oracle.SURFACES, f"{r.name}: no oracle surface for {kind}"


@pytest.mark.parametrize(("example", "stack", "phase"), CASES, ids=[f"{e}-{s}-{p.value}" for e, s, p in CASES])
def test_every_registered_resource_conforms(example: str, stack: str, phase: Phase) -> None:
    result = simulate_case(example, stack, phase)
    assert_every_type_is_known(result)
    assert_conforms(result)
    if stack == "dr":
        assert result.of_type(T.RECOVERY_PLAN), "the dr case covers the recovery plan"


@pytest.mark.parametrize(
    "overrides",
    [{"gateway": {"publicIp": "always"}}, {"gateway": {"publicIp": "never"}}, {"drill.enabled": False}],
    ids=["public-ip", "azure-managed-ip", "no-drill"],
)
def test_variants_conform(overrides: dict[str, Any]) -> None:
    result = run_stack("dr", overrides={**overrides, "recoveryPlan": PLAN})
    assert result.error is None, result.error
    assert_conforms(result)


def test_authorization_keys_conform() -> None:
    settings = load_stack("dr", overrides={"recoveryPlan": PLAN})
    settings.config["secondaryAuthorizationKey"] = "key-for-dr"
    settings.secret_keys.add("secondaryAuthorizationKey")
    result = simulate(settings)
    assert result.error is None, result.error
    assert_conforms(result)
    (conn,) = [r for r in result.of_type(T.CONNECTION) if "secondary" in r.name]
    (request,) = oracle.requests_for(conn)
    assert request.body["properties"]["authorizationKey"] == "key-for-dr"


# --- API versions --------------------------------------------------------------------------------


def _native_version(type_: str) -> str:
    """The API version azure-native's own SDK states for the type."""
    module, name = type_.split(":")[1:]
    source = Path(importlib.import_module(f"pulumi_azure_native.{module}").__file__ or "").parent
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("i_p_address", "ip_address")
    text = (source / f"{snake}.py").read_text()
    found = re.search(r"Uses Azure REST API version (\S+?)\.", text)
    assert found, f"{type_}: no API version in {snake}.py"
    return found.group(1)


@pytest.mark.parametrize("kind", sorted(oracle.SURFACES))
def test_api_versions_match_or_the_gap_is_explained(kind: str) -> None:
    surface = oracle.SURFACES[kind]
    native_type = T.GENERIC_RESOURCE if kind == oracle.PROTECTION_CONTAINER else kind
    if native_type != T.GENERIC_RESOURCE:
        assert _native_version(native_type) == surface.native_version
    for api in surface.apis:
        ops = oracle.operations_on(api)
        assert "PUT" in ops, f"{api.path} has no PUT in {api.operations}"
        if ops["PUT"].api_version != surface.native_version:
            assert surface.version_note, (
                f"{kind}: SDK {ops['PUT'].api_version} vs azure-native {surface.native_version}"
            )


def _changelog_section(distribution: str, version: str) -> str:
    text = importlib.metadata.metadata(distribution).get_payload()  # type: ignore[attr-defined]
    found = re.search(rf"^## {re.escape(version)} .*?(?=^## )", text, re.S | re.M)
    assert found, f"{distribution} {version}: no changelog section"
    return found.group(0)


@pytest.mark.parametrize(
    ("distribution", "version", "kinds"),
    [
        (
            "azure-mgmt-recoveryservicessiterecovery",
            "1.3.0",
            [
                T.FABRIC,
                T.REPLICATION_POLICY,
                T.CONTAINER_MAPPING,
                T.NETWORK_MAPPING,
                T.RECOVERY_PLAN,
                T.GENERIC_RESOURCE,
            ],
        ),
        ("azure-mgmt-recoveryservices", "3.1.0", [T.VAULT]),
    ],
)
def test_site_recovery_models_did_not_change_across_the_gap(distribution: str, version: str, kinds: list[str]) -> None:
    """The installed package's changelog lists every model it changed since the previous API
    version; none of the models the program's bodies use is among them, so the API version
    azure-native uses (between the two) defines them the same way."""
    assert importlib.metadata.version(distribution) == version
    changes = _changelog_section(distribution, version)
    result = run_stack("dr", overrides={"recoveryPlan": PLAN})
    seen: set[str] = set()
    for r in result.resources:
        if r.type in kinds:
            assert oracle.conformance_problems(r, seen) == []
    assert len(seen) >= len(kinds)
    touched = sorted(m for m in seen if re.search(rf"\b{m}\b", changes))
    assert touched == [], f"{distribution} {version} changed {touched}"


# --- operations the service has ------------------------------------------------------------------


def test_only_protection_containers_lack_delete_and_they_are_retained() -> None:
    result = run_stack("dr", overrides={"recoveryPlan": PLAN})
    without_delete = {}
    for r in oracle.iter_checked(result.resources):
        kind, _ = oracle._concrete_path(r)
        if any("DELETE" not in oracle.operations_on(api) for api in oracle.SURFACES[kind].apis):
            without_delete[r.name] = r.retain_on_delete
    assert without_delete == {"asr-source-container": True, "asr-target-container": True}
    # The removal the API offers instead, named in docs/safety.md.
    (api,) = oracle.SURFACES[oracle.PROTECTION_CONTAINER].apis
    remove = [op for op in oracle.operations(api.operations) if op.url.startswith(api.path + "/remove")]
    assert [op.method for op in remove] == ["POST"]


@pytest.mark.parametrize(
    "package", ["azure.mgmt.recoveryservicessiterecovery.operations", "azure.mgmt.authorization.v2022_04_01.operations"]
)
def test_reading_only_the_builders_finds_what_parsing_whole_modules_finds(package: str) -> None:
    """The oracle parses each operations module's request builders only; on Microsoft's own
    modules that gives exactly the operations a parse of the whole module gives (~180 between
    these two packages; the network package, 685, was checked the same way when this came in)."""
    fast = oracle._read_operations(package)
    assert len(fast) > 20
    assert fast == oracle._read_operations(package, oracle.whole_module_builders)


def test_builder_sources_end_each_builder_where_the_module_level_goes_on(tmp_path: Path) -> None:
    text = (
        "import x\n_S = x.Serializer()\n\n"
        'def build_get_request(a: str, **kwargs) -> x.R:\n    _url = "/a/{a}"\n\n'
        '    return x.R(method="GET", url=_url)\n\n\n'
        "@decorator\ndef helper():\n    return 1\n\n"
        'def build_put_request(**kwargs):\n    return x.R(method="PUT", url="/b/{b}")\n\n'
        "class Ops:\n    def build_inner(self):\n        pass\n"
    )
    chunk = oracle.builder_sources(text)
    assert "def build_get_request" in chunk and 'url="/b/{b}"' in chunk
    assert "helper" not in chunk and "class Ops" not in chunk and "_S =" not in chunk
    # A builder whose docstring has a column-0 "def " line is cut short there; the chunk does not
    # parse, and the whole module is read instead.
    odd = text.replace("(**kwargs):\n", '(**kwargs):\n    """Doc.\n\ndef not_code():\n    """\n')
    source = tmp_path / "_odd_operations.py"
    source.write_text(odd)
    assert [f.name for f in oracle._builders(source)] == ["build_get_request", "build_put_request"]


# --- control: the oracle fails on wrong bodies -----------------------------------------------------


@pytest.fixture(scope="module")
def dr_with_plan() -> SimResult:
    result = run_stack("dr", overrides={"recoveryPlan": PLAN})
    assert result.error is None, result.error
    return result


def _changed(reg: Registration, **inputs: Any) -> Registration:
    return dataclasses.replace(reg, inputs={**reg.plain_inputs, **inputs})


def _plan_with(result: SimResult, change: Any) -> Registration:
    (plan,) = result.of_type(T.RECOVERY_PLAN)
    props = dict(plan.plain_inputs["properties"])
    props["groups"] = [dict(g) for g in props["groups"]]
    change(props["groups"])
    return _changed(plan, properties=props)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("misspelt property", "has no such property"),
        ("enum value", "is not one of"),
        ("missing required", "required by RecoveryPlanGroup"),
        ("read-only property", "read-only"),
        ("snake_case inside a polymorphic input", "has no such property"),
        ("string for an integer", "is not a int"),
        ("generic resource without retainOnDelete", "has no DELETE"),
        ("missing path parameter", "path parameter virtualNetworkGatewayConnectionName is not an input"),
    ],
)
def test_oracle_rejects_wrong_bodies(dr_with_plan: SimResult, case: str, expected: str) -> None:
    connection = next(r for r in dr_with_plan.of_type(T.CONNECTION))
    if case == "misspelt property":
        wrong = _changed(connection, routingWieght=10)
    elif case == "enum value":
        wrong = _plan_with(dr_with_plan, lambda groups: groups[-1].update(groupType="Boot2"))
    elif case == "missing required":
        wrong = _plan_with(dr_with_plan, lambda groups: groups[-1].pop("groupType"))
    elif case == "read-only property":
        wrong = _changed(connection, provisioningState="Succeeded")
    elif case == "snake_case inside a polymorphic input":
        (policy,) = dr_with_plan.of_type(T.REPLICATION_POLICY)
        wrong = _changed(
            policy, properties={"providerSpecificInput": {"instanceType": "A2A", "recovery_point_history": 1440}}
        )
    elif case == "string for an integer":
        wrong = _changed(connection, routingWeight="100")
    elif case == "generic resource without retainOnDelete":
        container = dr_with_plan.by_name("asr-source-container")
        wrong = dataclasses.replace(container, retain_on_delete=False)
    else:
        wrong = dataclasses.replace(
            connection,
            inputs={k: v for k, v in connection.plain_inputs.items() if k != "virtualNetworkGatewayConnectionName"},
        )
    assert oracle.conformance_problems(connection) == []
    problems = oracle.conformance_problems(wrong)
    assert any(expected in p for p in problems), problems
