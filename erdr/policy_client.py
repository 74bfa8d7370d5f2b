"""Drive the CrossGuard pack over its real analyzer gRPC interface, the way the Pulumi CLI does.

    with PolicyPackClient() as pack:                 # python -m pulumi.policy <engine> policies
        pack.configure({"gateway-subnet": "advisory"})
        diags = pack.analyze_stack(analyzer_resources(sim))

- :class:`PolicyPackClient` starts the pack, reads the port it prints, and calls
  GetAnalyzerInfo / Configure / Analyze / AnalyzeStack.
- :func:`analyzer_resources` turns an :class:`erdr.simulate.SimResult` into the
  ``AnalyzerResource`` messages the engine would send: URNs, types, properties (camelCase, secrets
  and unknowns kept as the engine marshals them), parent, dependencies, property dependencies
  and options. :func:`check` runs Analyze on each custom resource and AnalyzeStack on all.

The engine address argument: ``pulumi.policy`` only parses it; the Python policy SDK never dials
the engine (logs go to stderr), so no fake Engine server is needed and :data:`NO_ENGINE` is
passed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from erdr.simulate import SECRET_SIG, SECRET_VALUE_SIG, UNKNOWN, Registration, SimResult
from erdr.stackfiles import PROJECT_DIR, StackSettings
from policies.shared import names as T

POLICIES_DIR = PROJECT_DIR / "policies"
NO_ENGINE = "127.0.0.1:0"
LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
_MAX_MESSAGE = 400 * 1024 * 1024  # the SDK's own server limit


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str  # advisory | mandatory | ...
    message: str
    urn: str

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"


class PolicyPackClient:
    """A running policy pack process and a gRPC stub to it. Use as a context manager."""

    def __init__(
        self,
        pack: Path | str = POLICIES_DIR,
        *,
        python: str = sys.executable,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.pack, self.python, self.cwd = str(pack), python, cwd
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._info: analyzer_pb2.AnalyzerInfo | None = None

    def __enter__(self) -> PolicyPackClient:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", NO_ENGINE, self.pack],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        port = self._read_port()
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)],
        )
        grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def _read_port(self) -> int:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        line = self.process.stdout.readline()  # the pack prints its port, then serves forever
        if not line.strip().isdigit() or time.monotonic() > deadline:
            self.close()
            raise RuntimeError(f"policy pack did not print a port (got {line!r}); stderr:\n{self.stderr()}")
        return int(line)

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    @property
    def stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._stub is None:
            raise RuntimeError("the policy pack is not running; call start() or use `with`")
        return self._stub

    # --- the analyzer protocol ---------------------------------------------------------------

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        info = self._info
        if info is None:
            info = self._info = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        return info

    def default_levels(self) -> dict[str, str]:
        return {p.name: LEVEL_NAMES[p.enforcementLevel] for p in self.info().policies}

    def configure(self, config: Mapping[str, str | Mapping[str, Any]] | None = None) -> None:
        """Send the pack config as the CLI does: every policy, with its level and properties.

        ``config`` is the ``--policy-pack-config`` JSON: ``{policy: level}`` or ``{policy:
        {"enforcementLevel": level, **properties}}``. Policies not named keep their defaults; a
        key ``"all"`` sets every policy's level.
        """
        config = dict(config or {})
        every = config.pop("all", None)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, default in self.default_levels().items():
            entry = config.pop(name, {})
            level = every if isinstance(every, str) else default
            props: dict[str, Any] = {}
            if isinstance(entry, str):
                level = entry
            else:
                props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
                level = str(entry.get("enforcementLevel", level))
            message = request.policyConfig[name]
            message.enforcementLevel = LEVELS[level]
            if props:
                message.properties.update(props)
        if config:
            raise KeyError(f"no such policies in the pack: {sorted(config)}")
        self.stub.Configure(request)

    def analyze(self, resource: analyzer_pb2.AnalyzerResource) -> list[Diagnostic]:
        request = analyzer_pb2.AnalyzeRequest(
            urn=resource.urn,
            type=resource.type,
            name=resource.name,
            properties=resource.properties,
            options=resource.options,
        )
        return _diagnostics(self.stub.Analyze(request))

    def analyze_stack(self, resources: Sequence[analyzer_pb2.AnalyzerResource]) -> list[Diagnostic]:
        return _diagnostics(self.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=list(resources))))


def _diagnostics(response: analyzer_pb2.AnalyzeResponse) -> list[Diagnostic]:
    return [
        Diagnostic(d.policyName, LEVEL_NAMES.get(d.enforcementLevel, str(d.enforcementLevel)), d.message, d.urn)
        for d in response.diagnostics
    ]


# --- resources as the engine sends them --------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def _seconds(text: str) -> float:
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in _DURATION.findall(text))


def make_resource(
    urn: str,
    properties: Mapping[str, Any],
    *,
    parent: str = "",
    dependencies: Iterable[str] = (),
    property_dependencies: Mapping[str, Iterable[str]] | None = None,
    protect: bool = False,
    delete_before_replace: bool | None = None,
    custom_timeouts: Mapping[str, str] | None = None,
) -> analyzer_pb2.AnalyzerResource:
    """One AnalyzerResource; ``urn`` gives its type and name."""
    type_, name = urn.split("::")[-2].rsplit("$", maxsplit=1)[-1], urn.rsplit("::", maxsplit=1)[-1]
    props = struct_pb2.Struct()
    props.update(dict(properties))
    timeouts = custom_timeouts or {}
    options = analyzer_pb2.AnalyzerResourceOptions(
        protect=protect,
        deleteBeforeReplace=bool(delete_before_replace),
        deleteBeforeReplaceDefined=delete_before_replace is not None,
        parent=parent,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=_seconds(timeouts.get("create", "")),
            update=_seconds(timeouts.get("update", "")),
            delete=_seconds(timeouts.get("delete", "")),
        ),
    )
    resource = analyzer_pb2.AnalyzerResource(
        urn=urn,
        type=type_,
        name=name,
        properties=props,
        options=options,
        parent=parent,
        dependencies=list(dependencies),
    )
    for key, urns in (property_dependencies or {}).items():
        urns = list(urns)
        if urns:
            resource.propertyDependencies[key].urns.extend(urns)
    return resource


def from_registration(
    reg: Registration, *, preview: bool, outputs: Mapping[str, Any] | None = None
) -> analyzer_pb2.AnalyzerResource:
    """The AnalyzerResource the engine would send for one registered resource.

    Properties are the inputs as registered, plus ``id`` (unknown in preview) for custom
    resources; a StackReference also carries the peer stack's ``outputs`` when given.
    """
    props = dict(reg.inputs)
    if reg.custom and "id" not in props:
        props["id"] = reg.id if reg.id and not preview else UNKNOWN
    if outputs is not None:
        props["outputs"] = dict(outputs)
    return make_resource(
        reg.urn,
        props,
        parent=reg.parent,
        dependencies=reg.dependencies,
        property_dependencies=reg.property_dependencies,
        protect=reg.protect,
        delete_before_replace=reg.delete_before_replace or None,
        custom_timeouts=reg.custom_timeouts,
    )


def analyzer_resources(
    sim: SimResult, peer_outputs: Mapping[str, Mapping[str, Any]] | None = None
) -> list[analyzer_pb2.AnalyzerResource]:
    """Every resource of a simulated run, as AnalyzeStack receives them."""
    out = []
    for reg in sim.resources:
        outputs = None
        if reg.type == T.STACK_REFERENCE:
            stack = reg.inputs.get("name")
            outputs = (peer_outputs or {}).get(str(stack))
        out.append(from_registration(reg, preview=sim.preview, outputs=outputs))
    return out


def check(
    client: PolicyPackClient,
    resources: Sequence[analyzer_pb2.AnalyzerResource],
    custom: Iterable[str] | None = None,
) -> list[Diagnostic]:
    """Analyze each custom resource (``custom``: their URNs; default all), then AnalyzeStack."""
    wanted = set(custom) if custom is not None else None
    found: list[Diagnostic] = []
    for r in resources:
        if wanted is None or r.urn in wanted:
            found += client.analyze(r)
    return found + client.analyze_stack(resources)


def check_simulation(
    client: PolicyPackClient, sim: SimResult, peer_outputs: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Diagnostic]:
    resources = analyzer_resources(sim, peer_outputs)
    return check(client, resources, [r.urn for r in sim.resources if r.custom])


def circuits_config(settings: StackSettings) -> list[dict[str, Any]]:
    """The stack's circuits in the pack's ``circuits`` config shape."""
    raw = settings.config.get("circuits") or {}
    if isinstance(raw, str):
        raw = json.loads(raw)
    return [{"name": key, **value} for key, value in raw.items() if isinstance(value, Mapping)]


def appliance_subnets(settings: StackSettings) -> list[str]:
    """The stack's NVA (or AzureFirewallSubnet) prefixes, in the udr-next-hop-in-appliance-subnet
    rule's ``applianceSubnets`` shape, for a pack started without this stack's PULUMI_CONFIG."""
    from erdr.stackfiles import stack_config
    from model.spec import network_for

    cfg = stack_config(settings)
    net = network_for(cfg, cfg.role)
    return [s.prefix for s in net.hub.subnets if s.name == net.nva_subnet]


def stack_env(settings: StackSettings, *, preview: bool) -> dict[str, str]:
    """The environment the CLI gives a policy pack for this stack (PULUMI_CONFIG etc.)."""
    return {
        "PULUMI_CONFIG": json.dumps(settings.engine_config()),
        "PULUMI_PROJECT": settings.project,
        "PULUMI_STACK": settings.stack,
        "PULUMI_DRY_RUN": "true" if preview else "false",
    }


def secret(value: Any) -> dict[str, Any]:
    """A value wrapped as the engine marshals a secret."""
    return {SECRET_SIG: SECRET_VALUE_SIG, "value": value}
