"""Drive the CrossGuard pack over its real analyzer gRPC interface, the way the Pulumi CLI does.

    with PolicyPackClient() as pack:                 # as pulumi-language-python starts it
        pack.configure({"gateway-subnet": "advisory"})
        diags = check_simulation(pack, sim)          # Analyze on inputs, AnalyzeStack on outputs

- :func:`language_host_launch` is how the CLI's Python language host starts a pack
  (``RunPlugin`` for kind ``analyzer`` in pulumi/pulumi
  ``sdk/python/cmd/pulumi-language-python/main.go``): ``<virtualenv>/bin/python -u -m
  pulumi.policy <engine> <absolute pack dir>``, run from the pack directory, ``virtualenv`` from
  ``PulumiPolicy.yaml`` resolved against the pack directory (``sdk/python/toolchain/pip.go``),
  the environment activated as ``toolchain.ActivateVirtualEnv`` does it.
  :class:`PolicyPackClient` starts the pack that way, reads the port it prints, and calls
  GetAnalyzerInfo / Configure / Analyze / AnalyzeStack.
- :func:`analyzer_resources` turns an :class:`erdr.simulate.SimResult` into what the engine sends:
  ``Analyze`` gets each resource's inputs, ``AnalyzeStack`` every resource of the deployment with
  its *outputs* (:mod:`erdr.engine_view`), parent, dependencies and non-empty property
  dependencies. :func:`check` runs Analyze on each custom resource and AnalyzeStack on all.

The engine address argument: ``pulumi.policy`` only parses it; the Python policy SDK never dials
the engine (logs go to stderr), so no fake Engine server is needed and :data:`NO_ENGINE` is
passed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from erdr import engine_view, safe_yaml
from erdr.engine_view import EngineResource
from erdr.simulate import SimResult
from erdr.stackfiles import PROJECT_DIR, StackSettings

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


@dataclass(frozen=True)
class Launch:
    """A policy pack process as the CLI's language host starts it."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    virtualenv: Path | None

    @property
    def python(self) -> str:
        return self.argv[0]


class PackNotInstalled(RuntimeError):
    """The interpreter PulumiPolicy.yaml names does not exist: the set-up has not run."""


def _bin_dir() -> str:
    return "Scripts" if os.name == "nt" else "bin"


def activate_virtualenv(environ: Mapping[str, str], virtualenv: Path) -> dict[str, str]:
    """The environment ``toolchain.ActivateVirtualEnv`` gives the pack: the virtualenv's bin
    directory first on PATH, PYTHONHOME unset, VIRTUAL_ENV set."""
    out = {k: v for k, v in environ.items() if k.upper() not in ("PATH", "PYTHONHOME", "VIRTUAL_ENV")}
    path = next((v for k, v in environ.items() if k.upper() == "PATH"), None)
    out["PATH"] = str(virtualenv / _bin_dir()) + (os.pathsep + path if path else "")
    out["VIRTUAL_ENV"] = str(virtualenv)
    return out


def language_host_launch(
    pack: Path | str = POLICIES_DIR, *, engine: str = NO_ENGINE, environ: Mapping[str, str] | None = None
) -> Launch:
    """How ``pulumi preview --policy-pack <pack>`` starts a Python pack (Pulumi >= 3.221).

    The CLI hands the pack's absolute directory to the language host's ``RunPlugin``
    (``sdk/go/common/resource/plugin/plugin.go`` ``ExecPlugin``); for kind ``analyzer`` it runs
    ``-u -m pulumi.policy <engine> <program directory>`` with the toolchain's interpreter and
    ``cmd.Dir`` = the pack directory. With ``toolchain: pip`` and a ``virtualenv`` option the
    interpreter is ``<pack dir>/<virtualenv>/bin/python`` (``newPip`` /
    ``resolveVirtualEnvironmentPath``); without one, the ``python3`` on PATH.
    """
    root = Path(pack).resolve()
    project = safe_yaml.load_file(root / "PulumiPolicy.yaml") or {}
    runtime = project.get("runtime")
    options = runtime.get("options") or {} if isinstance(runtime, dict) else {}
    base = dict(os.environ if environ is None else environ)
    option = options.get("virtualenv")
    if option:
        venv = Path(os.path.normpath(option if os.path.isabs(option) else root / option))
        python = str(venv / _bin_dir() / ("python.exe" if os.name == "nt" else "python"))
        env = activate_virtualenv(base, venv)
    else:
        venv, python, env = None, "python3", base
    return Launch([python, "-u", "-m", "pulumi.policy", engine, str(root)], root, env, venv)


class PolicyPackClient:
    """A running policy pack process and a gRPC stub to it. Use as a context manager.

    The process is started by :func:`language_host_launch`, as the CLI starts it; ``env`` adds
    what the language host adds from the engine (the stack's ``PULUMI_CONFIG`` etc.,
    :func:`stack_env`).
    """

    def __init__(
        self,
        pack: Path | str = POLICIES_DIR,
        *,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        launch = language_host_launch(pack)
        self.launch = Launch(
            launch.argv, launch.cwd, {**launch.env, "PYTHONUNBUFFERED": "1", **(env or {})}, launch.virtualenv
        )
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
        python = self.launch.python
        if self.launch.virtualenv is not None and not Path(python).is_file():
            raise PackNotInstalled(
                f"the policy pack's interpreter {python} does not exist (PulumiPolicy.yaml: virtualenv "
                f"{self.launch.virtualenv}); run `make setup` in the project (or `pulumi install` in the pack's directory)"
            )
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            self.launch.argv,
            cwd=self.launch.cwd,
            env=self.launch.env,
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


def to_proto(resource: EngineResource) -> analyzer_pb2.AnalyzerResource:
    """The AnalyzerResource message for one resource of :mod:`erdr.engine_view`."""
    message = make_resource(
        resource.urn,
        resource.properties,
        parent=resource.parent,
        dependencies=resource.dependencies,
        property_dependencies=resource.property_dependencies,
        protect=resource.protect,
        delete_before_replace=resource.delete_before_replace,
        custom_timeouts=resource.custom_timeouts,
    )
    if resource.provider:
        urn = resource.provider.rsplit("::", 1)[0]
        message.provider.CopyFrom(
            analyzer_pb2.AnalyzerProviderResource(urn=urn, type=engine_view.PROVIDER_TYPE, name=urn.rsplit("::", 1)[-1])
        )
        message.provider.properties.update({"version": engine_view.AZURE_NATIVE_VERSION})
    return message


def analyze_requests(run: SimResult) -> list[analyzer_pb2.AnalyzerResource]:
    """What Analyze receives, one request per custom resource: its inputs."""
    return [to_proto(r) for r in run.analyze_view()]


def analyzer_resources(run: SimResult) -> list[analyzer_pb2.AnalyzerResource]:
    """What AnalyzeStack receives: the whole deployment with each resource's outputs."""
    return [to_proto(r) for r in run.stack_view()]


def check(
    client: PolicyPackClient,
    inputs: Sequence[analyzer_pb2.AnalyzerResource],
    outputs: Sequence[analyzer_pb2.AnalyzerResource],
) -> list[Diagnostic]:
    """Analyze each resource of ``inputs``, then AnalyzeStack on ``outputs``, as the engine does."""
    found: list[Diagnostic] = []
    for r in inputs:
        found += client.analyze(r)
    return found + client.analyze_stack(outputs)


def check_simulation(client: PolicyPackClient, run: SimResult) -> list[Diagnostic]:
    return check(client, analyze_requests(run), analyzer_resources(run))


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
