"""The real boundaries without the real services: the Automation API adapter with Pulumi's own
result and event types (no CLI behind them), and the ARM read through Microsoft's SDK against a
local HTTPS endpoint that answers like Azure Resource Manager."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pulumi import automation as auto
from pulumi.automation.events import EngineEvent

from erdr.failover import (
    POLICY_PACK,
    AutomationError,
    AzureConnectionProbe,
    PlannedStep,
    PolicyFinding,
    ProbeError,
    PulumiAutomation,
)
from erdr.stackfiles import PROJECT_DIR
from tests.loopback import LoopbackServer, running

CONNECTION = "azure-native:network:VirtualNetworkGatewayConnection"
CONN_URN = f"urn:pulumi:dr::expressroute-dr::expressroute-dr:network:Hub${CONNECTION}::hub-secondary-connection"


def event(**fields: Any) -> EngineEvent:
    """An engine event as the CLI writes it to the event log the Automation API reads."""
    return EngineEvent.from_json({"sequence": 1, "timestamp": 0, **fields})


PREVIEW_EVENTS = [
    event(
        resourcePreEvent={
            "metadata": {
                "op": "update",
                "urn": CONN_URN,
                "type": CONNECTION,
                "provider": "",
                "old": {
                    "type": CONNECTION,
                    "urn": CONN_URN,
                    "id": "/x",
                    "parent": "",
                    "provider": "",
                    "inputs": {"virtualNetworkGatewayConnectionName": "hub-southeastasia-to-secondary"},
                },
                "new": {
                    "type": CONNECTION,
                    "urn": CONN_URN,
                    "id": "",
                    "parent": "",
                    "provider": "",
                    "inputs": {"virtualNetworkGatewayConnectionName": "hub-southeastasia-to-secondary"},
                },
            }
        }
    ),
    event(
        policyEvent={
            "message": "Two circuits ...",
            "color": "never",
            "policyName": "circuits-same-peering-location",
            "policyPackName": "expressroute-dr",
            "policyPackVersion": "0.1.0",
            "policyPackVersionTag": "0.1.0",
            "enforcementLevel": "advisory",
            "resourceUrn": CONN_URN,
        }
    ),
]


class StubWorkspace:
    """The part of LocalWorkspace the adapter runs its own CLI commands through."""

    def __init__(self, stack: StubStack) -> None:
        self.stack = stack
        self.work_dir = str(PROJECT_DIR)
        self.pulumi_home = None
        self.env_vars: dict[str, str] = {}
        self.pulumi_command = self

    def run(self, args: list[str], cwd: str, env: dict[str, str]) -> auto.CommandResult:
        self.stack.calls.append(("cli", args))
        if args[:2] == ["config", "--json"] and "--show-secrets" not in args:
            # `pulumi config --json` leaves a secret's value out (pkg/cmd/pulumi/config/config.go).
            listed = {
                k: {"secret": True} if k.endswith("AuthorizationKey") else {"value": v, "secret": False}
                for k, v in self.stack.config.items()
            }
            return auto.CommandResult(json.dumps(listed), "", 0)
        raise AssertionError(f"unexpected CLI command {args}")


class StubStack:
    """Stands in for automation.Stack: same method names, canned results, records calls."""

    def __init__(self, name: str, fail: str | None = None) -> None:
        self.name = name
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []
        self.workspace = StubWorkspace(self)
        self.config = {
            "expressroute-dr:topology": "single-circuit",
            "aws:region": "elsewhere",
        }

    def _maybe_fail(self, op: str) -> None:
        if op == self.fail:
            raise auto.CommandError(auto.CommandResult("", "\n".join(f"line {i}" for i in range(40)), 255))

    def get_config(self, key: str) -> auto.ConfigValue:
        if key not in self.config:
            raise auto.CommandError(auto.CommandResult("", f"configuration key '{key}' not found", 255))
        return auto.ConfigValue(self.config[key])

    def get_all_config(self) -> dict[str, auto.ConfigValue]:
        return {k: auto.ConfigValue(v, secret=k.endswith("AuthorizationKey")) for k, v in self.config.items()}

    def set_config(self, key: str, value: auto.ConfigValue) -> None:
        self._maybe_fail("set_config")
        self.calls.append(("set_config", (key, value.value, value.secret)))

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {"phase": auto.OutputValue("standby", False)}

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        self.calls.append(("preview", kwargs))
        self._maybe_fail("preview")
        kwargs["on_output"]("previewing")
        for e in PREVIEW_EVENTS:
            kwargs["on_event"](e)
        return auto.PreviewResult("", "", {auto.OpType.UPDATE: 1, auto.OpType.SAME: 7})

    def up(self, **kwargs: Any) -> auto.UpResult:
        self.calls.append(("up", kwargs))
        self._maybe_fail("up")
        kwargs["on_output"]("updating")
        outputs = {"phase": auto.OutputValue("failover", False), "circuitConnections": auto.OutputValue([], False)}
        return auto.UpResult("", "", summary=None, outputs=outputs)  # type: ignore[arg-type]

    def refresh(self, on_output: Any) -> None:
        self._maybe_fail("refresh")
        self.calls.append(("refresh", None))


def adapter(
    fail: str | None = None, configs: tuple[Path, ...] = ()
) -> tuple[PulumiAutomation, dict[str, StubStack], list[str]]:
    stacks: dict[str, StubStack] = {}
    said: list[str] = []

    def select(name: str, work_dir: str) -> StubStack:
        assert work_dir == str(PROJECT_DIR)
        stacks.setdefault(name, StubStack(name, fail))
        return stacks[name]

    return PulumiAutomation(say=said.append, select=select, policy_pack_configs=configs), stacks, said


def test_adapter_maps_the_automation_api(tmp_path: Path) -> None:
    a, stacks, said = adapter()
    assert a.get_config("prod", "expressroute-dr:topology") == "single-circuit"
    assert a.get_config("prod", "expressroute-dr:peerStack") is None
    a.set_config("prod", "expressroute-dr:phase", "failover")
    assert stacks["prod"].calls == [("set_config", ("expressroute-dr:phase", "failover", False))]
    assert a.outputs("dr") == {"phase": "standby"}
    report = a.preview("dr", tmp_path / "plan.json")
    assert report.summary == {"update": 1, "same": 7} and report.error is None
    assert report.steps == [PlannedStep("update", CONN_URN, CONNECTION, "hub-southeastasia-to-secondary")]
    assert report.findings == [
        PolicyFinding("circuits-same-peering-location", "advisory", "Two circuits ...", CONN_URN)
    ]
    assert a.up("dr", tmp_path / "plan.json") == {"phase": "failover", "circuitConnections": []}
    a.refresh("prod")
    assert said == ["previewing", "updating"]
    assert set(stacks) == {"prod", "dr"}  # each stack selected once and reused


def test_preview_and_up_run_the_policy_pack_and_up_applies_the_previewed_plan(tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    a, stacks, _ = adapter(configs=(config,))
    plan = tmp_path / "plans" / "step2-dr.json"
    a.preview("dr", plan)
    a.up("dr", plan)
    (_, preview), (_, up) = stacks["dr"].calls
    for kwargs in (preview, up):
        assert kwargs["policy_packs"] == [str(POLICY_PACK)] and (POLICY_PACK / "PulumiPolicy.yaml").is_file()
        assert kwargs["policy_pack_configs"] == [str(config)]
        assert kwargs["plan"] == str(plan)  # preview --save-plan, up --plan
    assert plan.parent.is_dir()


def test_the_automation_api_turns_those_into_the_cli_flags() -> None:
    """What _stack.py makes of the keywords the adapter passes (the pinned SDK)."""
    from pulumi.automation._stack import _parse_extra_args

    args = _parse_extra_args(policy_packs=["/p/policies"], policy_pack_configs=["/p/c.json"])
    assert args == ["--policy-pack", "/p/policies", "--policy-pack-config", "/p/c.json"]
    source = Path(auto.__file__).with_name("_stack.py").read_text()
    assert 'args.append("--save-plan")' in source and 'args.append("--plan")' in source


def test_a_failed_preview_is_reported_with_its_findings(tmp_path: Path) -> None:
    a, _, _ = adapter(fail="preview")
    report = a.preview("dr", tmp_path / "plan.json")
    assert report.error is not None and "line 39" in report.error and "line 10" not in report.error


def test_stack_config_is_the_validated_model(tmp_path: Path) -> None:
    a, stacks, _ = adapter()
    stacks.setdefault("prod", StubStack("prod"))
    stacks["prod"].config = {
        "expressroute-dr:" + k: v if isinstance(v, str) else json.dumps(v) for k, v in _prod_config().items()
    }
    cfg = a.stack_config("prod")
    assert cfg.role.value == "source" and cfg.circuits.primary.peering_location == "Hong Kong"
    stacks["prod"].config["expressroute-dr:phase"] = "sideways"
    with pytest.raises(AutomationError, match="phase"):
        a.stack_config("prod")


def _prod_config() -> dict[str, Any]:
    from erdr.stackfiles import load_stack

    return load_stack("prod").config


@pytest.mark.parametrize("op", ["set_config", "up", "refresh"])
def test_adapter_turns_command_errors_into_automation_errors(op: str, tmp_path: Path) -> None:
    a, _, _ = adapter(fail=op)
    calls = {
        "set_config": lambda: a.set_config("dr", "expressroute-dr:phase", "failover"),
        "up": lambda: a.up("dr", tmp_path / "plan.json"),
        "refresh": lambda: a.refresh("dr"),
    }
    with pytest.raises(AutomationError) as info:
        calls[op]()
    text = str(info.value)
    assert "--stack dr" in text and "failed" in text
    assert "line 39" in text and "line 10" not in text  # only the tail of the engine output


def test_command_line_help_runs_without_the_pulumi_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "erdr.failover", "--help"],
        cwd=Path(PROJECT_DIR),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    flags = ("failover,failback,drill", "--yes", "--source-unreachable", "--stacks", "--log", "--resume")
    for flag in (*flags, "--policy-pack-config"):
        assert flag in proc.stdout


# --- the ARM read, through azure-mgmt-network, against a local HTTPS endpoint ---------------------

SUB = "00000000-0000-0000-0000-000000000000"
GONE = f"/subscriptions/{SUB}/resourceGroups/rg-expressroute-dr-eastasia/providers/Microsoft.Network/connections/gone"
THERE = GONE.replace("/gone", "/hub-eastasia-to-primary")


class StaticCredential:
    """Any TokenCredential will do for the SDK; this one hands out a fixed token."""

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        assert scopes == ("https://management.azure.com/.default",)
        return AccessToken("fake-token", 4102444800)


class FakeArm(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        FakeArm.seen.append((path, query, self.headers.get("Authorization", "")))
        if path.lower() == THERE.lower():
            status, body = (
                200,
                {"id": THERE, "name": "hub-eastasia-to-primary", "properties": {"provisioningState": "Deleting"}},
            )
        elif path.lower() == GONE.lower():
            status, body = 404, {"error": {"code": "NotFound", "message": "Resource not found."}}
        else:
            status, body = 500, {"error": {"code": "InternalServerError", "message": "boom"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fake_arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """ARM on https://127.0.0.1:<port>, with a self-signed certificate the client is told to trust."""
    folder = tmp_path_factory.mktemp("arm")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = LoopbackServer(("127.0.0.1", 0), FakeArm)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with running(server):
        yield f"https://127.0.0.1:{server.server_address[1]}", cert_file


def probe(fake_arm: tuple[str, Path]) -> AzureConnectionProbe:
    url, cert = fake_arm
    return AzureConnectionProbe(StaticCredential(), url, connection_verify=str(cert), retry_total=0)


def test_arm_read_finds_a_connection_azure_still_has(fake_arm: tuple[str, Path]) -> None:
    FakeArm.seen.clear()
    assert probe(fake_arm).connection_state(THERE) == "Deleting"
    (path, query, auth), *_ = FakeArm.seen
    assert path == THERE and query.startswith("api-version=") and auth == "Bearer fake-token"


def test_arm_read_of_a_deleted_connection_is_none(fake_arm: tuple[str, Path]) -> None:
    assert probe(fake_arm).connection_state(GONE) is None


def test_arm_errors_are_never_taken_for_gone(fake_arm: tuple[str, Path]) -> None:
    with pytest.raises(ProbeError, match="boom"):
        probe(fake_arm).connection_state(GONE.replace("/gone", "/broken"))
    with pytest.raises(ProbeError, match="not a connection ID"):
        probe(fake_arm).connection_state("/subscriptions/x")
