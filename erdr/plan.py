"""Offline plan: what each stack builds, whether the policies pass, what a phase change does, the
network as a picture and the DR runbook, with no cloud account, no Pulumi CLI and no network.

    python -m erdr.plan                                  # prod and dr, compared with failover
    python -m erdr.plan --stack dr --compare-phase failback
    python -m erdr.plan --stack dr --stack-file my/Pulumi.dr.yaml --set drill.enabled=false
    python -m erdr.plan --stacks-dir examples/single-circuit-same-ip
    python -m erdr.plan --set 'circuits.primary.onPremPrefixes[0]=192.168.0.0/16' --stack-set dr peerStack=org/expressroute-dr/prod

The real ``__main__.py`` runs under Pulumi's mock runtime (:mod:`erdr.simulate`), the real policy
pack answers over its analyzer gRPC interface (:mod:`erdr.policy_client`), and everything is
written to a temporary directory that replaces ``build/plan/`` only when the whole run succeeded.
Each stack's picture and the runbook are drawn from both stacks' config (the target's stack file
is the one place for target-only keys such as ``targetAddressPlan``); two stack files that
disagree are a config error naming both. The independent simulations run in worker processes
(``--jobs``), the policy packs and the renderer as subprocesses beside them.

Exit codes: 0 plan written; 1 plan written but a mandatory policy failed; 2 bad config or bad
arguments (nothing written); 3 anything else: one line, the details in ``<out>/traceback.txt``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import grpc
import yaml

from erdr import diagram, dr_runbook
from erdr.config_keys import ConfigKeyError, parse_config_key, parse_value, split_pair
from erdr.plan_json import (
    Change,
    Comparison,
    PolicyReport,
    PolicyViolation,
    compare,
    preview_digest,
    stack_export,
)
from erdr.simulate import SimResult, physical_name, simulate
from erdr.stackfiles import (
    MERGED,
    PROJECT_DIR,
    STACK_FILE,
    Override,
    StackFileError,
    StackSettings,
    load_stack,
    overrides_from,
    stack_config,
)
from model.config import ConfigError, Phase, Role, StackConfig
from model.config.errors import Issue, show
from model.config.estate import SourceMode
from model.config.pair import StackSide, pair_issues
from model.config.rules.keys import circuits_of
from model.phases import connection_plan
from model.spec import network_for
from policies.shared import azure_facts
from policies.shared.names import NAMESPACE

DEFAULT_STACKS: tuple[str, ...] = ("prod", "dr")
DEFAULT_OUT = PROJECT_DIR / "build" / "plan"
CRASH_FILE = "traceback.txt"
EXIT_OK, EXIT_POLICY, EXIT_CONFIG, EXIT_CRASH = 0, 1, 2, 3


class PlanError(Exception):
    """A problem the user fixes (config, arguments, a missing file); the message says how."""


class PlanCrash(Exception):
    """Something other than the input failed (the program, the pack); ``details`` go to a file."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details or message


# --- inputs ----------------------------------------------------------------------------------


def parse_set(items: Sequence[str], project: str = NAMESPACE, *, scope: str = STACK_FILE) -> list[Override]:
    """``--set KEY=VALUE`` as ``pulumi config set --path KEY VALUE`` (:mod:`erdr.config_keys`): the
    key is a property path (``a.b[0]``, ``a["x.y"]``), optionally ``namespace:``-prefixed; the value
    is a string at the top level, below it ``true``/``false`` and integers are typed as the CLI
    types them; ``{...}``/``[...]`` is JSON (or YAML flow); ``null`` removes the key (``config rm
    --path``). It is written to each stack file's config, before Pulumi.yaml's values are merged in.
    ``scope=MERGED`` (``--override``) edits the merged config instead: not a CLI command."""
    flag = "--set" if scope == STACK_FILE else "--override"
    out: list[Override] = []
    for item in items:
        try:
            key_text, text = split_pair(item)
            key = parse_config_key(key_text, project)
            value = parse_value(text, top_level=len(key.path) == 1)
        except ConfigKeyError as exc:
            raise PlanError(f"{flag} {show(item)}: {exc} (e.g. {flag} topology=single-circuit)") from None
        out.append(Override(key, value, item, scope))
    return out


def with_phase(settings: StackSettings, phase: Phase) -> StackSettings:
    config = dict(settings.config)
    config["phase"] = phase.value
    return StackSettings(settings.project, settings.stack, config, set(settings.secret_keys), settings.source)


@dataclass
class Options:
    stacks: list[str]
    stack_file: Path | None = None
    stacks_dir: Path | None = None
    # Overrides for every stack, then per stack (--stack-set), applied in that order.
    overrides: dict[str, Any] | list[Override] = field(default_factory=list[Override])
    stack_overrides: dict[str, list[Override]] = field(default_factory=dict[str, list[Override]])
    compare_phase: Phase | None = Phase.FAILOVER
    out: Path = DEFAULT_OUT
    images: bool = True
    policy: bool = True
    policy_config: dict[str, Any] | None = None
    runbook: bool = True
    jobs: int | None = 1  # None: worker processes for a large estate only (auto_jobs)
    show_sames: bool = False
    # erdr.discover's record of Azure's state; None: observed-state.json beside the stack files.
    observed_state: Path | None = None


def observed_state_path(opts: Options) -> Path | None:
    if opts.observed_state is not None:
        if not opts.observed_state.is_file():
            raise PlanError(f"--observed-state {opts.observed_state}: no such file")
        return opts.observed_state
    base = opts.stacks_dir or (opts.stack_file.parent if opts.stack_file is not None else PROJECT_DIR)
    found = base / OBSERVED_STATE
    return found if found.is_file() else None


def _stack_path(opts: Options, stack: str) -> Path:
    if opts.stack_file is not None and stack == opts.stacks[0]:
        return opts.stack_file
    base = opts.stacks_dir or (opts.stack_file.parent if opts.stack_file is not None else PROJECT_DIR)
    return base / f"Pulumi.{stack}.yaml"


def _overrides(opts: Options, stack: str) -> list[Override]:
    common = overrides_from(opts.overrides) if isinstance(opts.overrides, dict) else opts.overrides
    return [*common, *opts.stack_overrides.get(stack, [])]


def load_settings(opts: Options, stack: str) -> StackSettings:
    path = _stack_path(opts, stack)
    if not path.is_file():
        raise PlanError(f"stack '{stack}': no stack file {path}")
    try:
        return load_stack(stack, stack_file=path, overrides=_overrides(opts, stack))
    except yaml.YAMLError as exc:
        raise PlanError(f"stack '{stack}': {path} is not valid YAML: {exc}") from None
    except (StackFileError, ConfigKeyError) as exc:
        raise PlanError(f"stack '{stack}': {exc}") from None


def default_jobs() -> int:
    """The CPUs this process may use (both cores of the reference machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# A worker process costs about 1 s of CPU to start (the SDK and azure-native imported again), so
# below this many VNets in the layout one process is faster. Measured on the 2-core reference
# machine (medians of 4): 3 VNets 3.9 s with one job / 5.1 s with two, 11 VNets 5.3 / 6.8 s;
# 61 VNets 15.5 / 17.7 s under a load of 3-5 from other work, 14.5 / 10.4 s at a load of 2.7.
PARALLEL_FROM_VNETS = 25


def auto_jobs(plans: Iterable[StackConfig]) -> int:
    """Worker processes on every available CPU for a large estate, one process for a small one."""
    vnets = max((1 + len(cfg.layout.spokes) for cfg in plans), default=0)
    return default_jobs() if vnets >= PARALLEL_FROM_VNETS else 1


# --- running ---------------------------------------------------------------------------------


T = TypeVar("T")


class Progress:
    """One line per finished unit of work on stderr, so a CI log shows where the time goes."""

    def __init__(self, total: int, stream: TextIO, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.quiet = quiet
        self._lock = threading.Lock()

    def run(self, what: str, fn: Callable[[], T], describe: Callable[[T], str] = lambda _: "") -> T:
        start = time.perf_counter()
        value = fn()
        self.report(what, describe(value), time.perf_counter() - start)
        return value

    def report(self, what: str, extra: str, seconds: float) -> None:
        with self._lock:
            self.done += 1
            self.total = max(self.total, self.done)
            if not self.quiet:
                self.stream.write(
                    f"plan [{self.done}/{self.total}] {what}: {extra + ', ' if extra else ''}{seconds:.1f}s\n"
                )
                self.stream.flush()


class _Immediate(Executor):
    """Runs each submitted call at once, in the caller's thread (``--jobs 1``)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the future
            future.set_exception(exc)
        return future


def _warm_worker() -> None:
    import erdr.simulate  # noqa: F401 - the SDK imports once per worker, while the planner validates


OBSERVED_STATE = "observed-state.json"  # erdr.discover writes it beside the stack files


def read_observed(path: Path | None) -> dict[str, dict[str, Any]] | None:
    """ARM ID -> body from an observed-state file (erdr.discover); None without one."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        resources = data["resources"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PlanError(f"{path}: not an observed-state file written by erdr.discover ({exc})") from None
    if not isinstance(resources, dict):
        raise PlanError(f"{path}: `resources` must map ARM IDs to resource bodies")
    return {str(k): v for k, v in resources.items() if isinstance(v, dict)}


def _ref_id(value: Any) -> str:
    return str(value.get("id") or "") if isinstance(value, dict) else ""


def observed_link_issues(cfg: StackConfig, observed: dict[str, dict[str, Any]]) -> list[Issue]:
    """Connections past Microsoft's limit of circuits of one peering location per VNet ("up to four
    connections from the same peering location can be connected to the same virtual network",
    ExpressRoute FAQ, https://learn.microsoft.com/azure/expressroute/expressroute-faqs), counting
    the ExpressRoute connections Azure already holds on the adopted source gateway (erdr.discover's
    observed state: connections the layout does not model stay in Azure) with the program's. The
    config alone holds two circuits, so only an adopted gateway can reach the fifth."""
    if cfg.role is not Role.SOURCE or cfg.source.mode.value != "adopted":
        return []
    hub = cfg.layout.hub.name
    gateway_id = cfg.source.imports.get(f"{hub}-gateway", "").lower()
    if not gateway_id:
        return []
    by_id = {k.lower(): v for k, v in observed.items()}
    imported = {v.lower() for v in cfg.source.imports.values()}
    mine = {
        label: circuit
        for label in sorted(circuits_of(cfg, Role.SOURCE))
        if (circuit := cfg.circuits.primary if label == "primary" else cfg.circuits.secondary) is not None
    }
    mine_ids = {c.id.lower() for c in mine.values()}
    held: dict[str, set[str]] = {}  # peering location -> circuits Azure connects the gateway to already
    for conn_id, body in by_id.items():
        props = body.get("properties") or {}
        if "/connections/" not in conn_id or conn_id in imported or props.get("connectionType") != "ExpressRoute":
            continue
        if _ref_id(props.get("virtualNetworkGateway1")).lower() != gateway_id:
            continue
        peer = _ref_id(props.get("peer")).lower()
        provider = ((by_id.get(peer) or {}).get("properties") or {}).get("serviceProviderProperties") or {}
        if peer in mine_ids or not provider.get("peeringLocation"):
            continue  # the program's own circuit, or a circuit discover could not read
        held.setdefault(provider["peeringLocation"].casefold().replace(" ", ""), set()).add(peer.rsplit("/", 1)[-1])
    limit = azure_facts.MAX_CIRCUITS_SAME_PEERING_LOCATION_PER_VNET
    out: list[Issue] = []
    counted: dict[str, int] = {k: len(v) for k, v in held.items()}
    for label, circuit in mine.items():
        location = circuit.peering_location.casefold().replace(" ", "")
        counted[location] = counted.get(location, 0) + 1
        if counted[location] > limit and location in held:
            out.append(
                Issue(
                    f"circuits.{label}.id",
                    circuit.id,
                    f"would be connection {counted[location]} from peering location {circuit.peering_location} "
                    f"to the source hub's gateway, which Azure already connects to {', '.join(sorted(held[location]))} "
                    f"(observed state); Azure allows {limit} circuits of one peering location per VNet "
                    "(ExpressRoute FAQ): use a circuit at another peering location or remove a connection first",
                )
            )
    return out


def declared_production(settings: StackSettings) -> dict[str, dict[str, Any]] | None:
    """For a dr stack whose production is ``source.mode: external``: the production VNets as the
    layout declares them (what erdr.discover observed), as ARM would return them to the dr
    stack's read-only lookups. Offline there is no Azure to read; the real preview reads it and
    stops on drift (program/estate.py). None for every other stack."""
    try:
        cfg = stack_config(settings)
    except ConfigError:
        return None  # the run itself reports it
    if cfg.role is not Role.TARGET or cfg.source.mode is not SourceMode.EXTERNAL:
        return None
    net = network_for(cfg, Role.SOURCE)
    out: dict[str, dict[str, Any]] = {}
    for v in net.vnets:
        assert v.id is not None, "the resolved estate names every source VNet"
        subnets = [
            {"id": v.id.child("subnets", s.name).id, "name": s.name, "properties": {"addressPrefix": s.prefix}}
            for s in v.subnets
        ]
        out[v.id.id.lower()] = {
            "id": v.id.id,
            "name": v.azure_name,
            "location": net.region,
            "properties": {"addressSpace": {"addressPrefixes": list(v.address_space)}, "subnets": subnets},
        }
    return out


def _simulate_job(
    settings: StackSettings, preview: bool, peers: dict[str, Any], observed: dict[str, dict[str, Any]] | None = None
) -> tuple[SimResult, float]:
    start = time.perf_counter()
    # What Azure holds (discover's observed state), else for an external production the declared one.
    live = observed if observed is not None else declared_production(settings)
    result = simulate(settings, preview=preview, peer_outputs=peers, live=live, observed=observed)
    return result, time.perf_counter() - start


class Work:
    """Where the plan's units run. With one job everything runs in this thread, in order. With
    more, each simulation (the bulk of the CPU time, and independent of the others but for the
    single-circuit gate's peer outputs) runs in a worker process; policy packs and renders are
    subprocesses already and are started from threads, at most ``jobs`` at a time."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.processes: ProcessPoolExecutor | None = None
        if jobs > 1:
            # spawn: the planner holds gRPC channels, which must not be forked.
            ctx = multiprocessing.get_context("spawn")
            self.processes = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_warm_worker)
            self.waiters: Executor = ThreadPoolExecutor(32, thread_name_prefix="plan-sim")
            self.tools: Executor = ThreadPoolExecutor(jobs, thread_name_prefix="plan-tool")
        else:
            self.waiters = self.tools = _Immediate()

    def simulate(
        self, settings: StackSettings, preview: bool, peers: dict[str, Any], observed: dict[str, Any] | None = None
    ) -> tuple[SimResult, float]:
        """The run's result and how long it took (in its worker, not counting the wait for one)."""
        if self.processes is None:
            return _simulate_job(settings, preview, peers, observed)
        return self.processes.submit(_simulate_job, settings, preview, peers, observed).result()

    def close(self) -> None:
        if self.processes is not None:
            self.processes.shutdown(wait=True, cancel_futures=True)
            for pool in (self.waiters, self.tools):
                pool.shutdown(wait=True, cancel_futures=True)


SimKey = tuple[str, Phase, bool]  # stack, phase, preview


@dataclass
class StackPlan:
    settings: StackSettings
    cfg: StackConfig
    runs: dict[tuple[Phase, bool], SimResult] = field(default_factory=dict[tuple[Phase, bool], SimResult])
    policy: PolicyReport = field(default_factory=PolicyReport)
    compare_policy: PolicyReport | None = None
    comparison: Comparison | None = None

    @property
    def name(self) -> str:
        return self.settings.stack


def needs_peer(cfg: StackConfig) -> bool:
    """Whether the program reads the peer stack (program/stack.py's single-circuit gate): an
    exclusive connection in a phase that (re)connects, with peerStack set and the source region
    not declared unreachable."""
    if not cfg.peer_stack or cfg.phase is Phase.STANDBY or cfg.source_region_unreachable:
        return False
    return any(spec.exclusive for spec in connection_plan(cfg, cfg.role, cfg.phase))


def _describe_run(result: SimResult) -> str:
    if result.error:
        return "program error"
    custom = sum(1 for r in result.resources if r.custom and not r.read)
    reads = sum(1 for r in result.resources if r.read)
    components = len(result.resources) - custom - reads
    return f"{custom} resources, {components} components" + (f", {reads} read" if reads else "")


def _partner_name(stack: str, cfg: StackConfig) -> str | None:
    """The other stack of the estate: the one peerStack names, else the project's other default."""
    if cfg.peer_stack:
        return cfg.peer_stack.rsplit("/", 1)[-1]
    if stack in DEFAULT_STACKS:
        return DEFAULT_STACKS[1 - DEFAULT_STACKS.index(stack)]
    return None


def _phase_context(stack: str, phase: Phase, configured: Phase, why: str) -> str:
    return f"stack '{stack}' in phase '{phase.value}' ({why}; its stack file says '{configured.value}')"


class Planner:
    def __init__(self, opts: Options, progress: Progress, work: Work | None = None) -> None:
        self.opts = opts
        self.progress = progress
        self.work = work or Work(1)
        self.plans: dict[str, StackPlan] = {}
        # Stacks read for the other side of the picture or the single-circuit gate, not planned.
        self.partners: dict[str, StackPlan] = {}
        self._sims: dict[SimKey, Future[SimResult]] = {}
        self._lock = threading.Lock()
        # (stack, phase, preview) -> the peer outputs its StackReference was answered with
        self.peers_used: dict[SimKey, dict[str, Any]] = {}
        self.observed_path = observed_state_path(opts)
        self.observed = read_observed(self.observed_path)

    # -- reading and checking the input ------------------------------------------------------

    def stack(self, name: str) -> StackPlan:
        if name in self.plans:
            return self.plans[name]
        if name not in self.partners:
            raise PlanError(f"stack '{name}' is not part of this plan")
        return self.partners[name]

    def counterpart(self, plan: StackPlan) -> StackPlan | None:
        """The other stack of ``plan``'s estate: the planned stack of the other role, else the one
        its peerStack (or the project's other default stack) names, if that was read."""
        role = Role.TARGET if plan.cfg.role is Role.SOURCE else Role.SOURCE
        for other in self.plans.values():
            if other.cfg.role is role:
                return other
        name = _partner_name(plan.name, plan.cfg)
        if name is None or name == plan.name:
            return None
        return self.plans.get(name) or self.partners.get(name)

    def partner_of(self, plan: StackPlan) -> StackPlan | None:
        """The counterpart, if it has the other role (what the picture and the gate read)."""
        other = self.counterpart(plan)
        return other if other is not None and other.cfg.role is not plan.cfg.role else None

    def phases_of(self, plan: StackPlan) -> set[Phase]:
        """Every phase the plan runs ``plan``'s program in."""
        phases = {plan.cfg.phase}
        if self.opts.compare_phase is not None:
            phases.add(self.opts.compare_phase)
        if self.runbook_pair() is not None:
            phases |= set(Phase)
        return phases

    def runbook_pair(self) -> tuple[StackPlan, StackPlan] | None:
        if not self.opts.runbook:
            return None
        source = [p for p in self.plans.values() if p.cfg.role is Role.SOURCE]
        target = [p for p in self.plans.values() if p.cfg.role is Role.TARGET]
        return (source[0], target[0]) if len(source) == 1 and len(target) == 1 else None

    def _why(self, phase: Phase) -> str:
        if phase is self.opts.compare_phase:
            return "the plan compares with it: --compare-phase"
        return "the runbook walks every phase: --no-runbook skips it"

    def _check_phases(self, plan: StackPlan, phases: Iterable[Phase]) -> list[str]:
        """Config errors of ``plan`` in phases other than its own, each line saying which phase."""
        lines: list[str] = []
        seen: set[str] = set()
        prefix = f"stack '{plan.name}': "
        for phase in sorted(set(phases) - {plan.cfg.phase}, key=list(Phase).index):
            try:
                stack_config(with_phase(plan.settings, phase))
            except ConfigError as exc:
                context = _phase_context(plan.name, phase, plan.cfg.phase, self._why(phase))
                for line in str(exc).splitlines():
                    rest = line.removeprefix(prefix)
                    if rest not in seen:
                        seen.add(rest)
                        lines.append(f"{context}: {rest}")
        return lines

    def prepare(self) -> None:
        """Read every stack and check it, alone, in every phase the plan runs, and against the other
        stack of the estate; raise PlanError with every problem, before anything runs."""
        problems: list[str] = []
        for stack in self.opts.stacks:
            settings = load_settings(self.opts, stack)
            for warning in settings.warnings:
                self.progress.stream.write(f"warning: {warning}\n")
            try:
                cfg = stack_config(settings)
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            self.plans[stack] = StackPlan(settings, cfg)
        if self.observed is not None:
            for plan in self.plans.values():
                problems += [issue.line(plan.name) for issue in observed_link_issues(plan.cfg, self.observed)]
        if problems:
            raise PlanError("\n".join(problems))
        for plan in list(self.plans.values()):
            if self.counterpart(plan) is not None:
                continue
            name = _partner_name(plan.name, plan.cfg)
            if name is None or name == plan.name or name in self.partners:
                continue
            path = _stack_path(self.opts, name)
            if not path.is_file():
                if needs_any_peer(plan, self.phases_of(plan)):
                    problems.append(
                        f"stack '{plan.name}': config {NAMESPACE}:peerStack names '{name}', which has no stack file {path}"
                    )
                continue
            settings = load_settings(self.opts, name)
            try:
                self.partners[name] = StackPlan(settings, stack_config(settings))
            except ConfigError as exc:
                problems.append(f"{exc}\n(read as the other stack of '{plan.name}', for its picture and gate)")
        unknown = sorted(set(self.opts.stack_overrides) - set(self.plans) - set(self.partners))
        if unknown:
            known = ", ".join(sorted({*self.plans, *self.partners}))
            problems.append(f"--stack-set {unknown[0]}: no stack of that name in this plan ({known})")
        if problems:
            raise PlanError("\n".join(problems))
        for plan in self.plans.values():
            problems += self._check_phases(plan, self.phases_of(plan))
        for partner in self.partners.values():
            phases = {ph for p in self.plans.values() if self.counterpart(p) is partner for ph in self.phases_of(p)}
            problems += self._check_phases(partner, phases)
        checked: set[frozenset[str]] = set()
        for plan in self.plans.values():
            other = self.counterpart(plan)
            if other is None or frozenset((plan.name, other.name)) in checked:
                continue
            checked.add(frozenset((plan.name, other.name)))
            sides = [StackSide(p.name, p.settings.file_label, p.cfg) for p in (plan, other)]
            problems += [issue.line(stack) for stack, issue in pair_issues(*sides)]
        if problems:
            raise PlanError("\n".join(dict.fromkeys(problems)))

    # -- simulations -----------------------------------------------------------------------------

    def _gate_peer(self, stack: str, phase: Phase, gate: bool) -> tuple[StackSettings, StackConfig, str | None]:
        settings = with_phase(self.stack(stack).settings, phase)
        cfg = stack_config(settings)
        peer = cfg.peer_stack.rsplit("/", 1)[-1] if gate and cfg.peer_stack and needs_peer(cfg) else None
        return settings, cfg, peer

    def sim_keys(self, stack: str, phase: Phase, preview: bool, gate: bool = True) -> list[SimKey]:
        """The runs ``stack``'s run in ``phase`` takes: the gate's peer run first, then its own."""
        _, _, peer = self._gate_peer(stack, phase, gate)
        return ([(peer, phase, preview)] if peer else []) + [(stack, phase, preview)]

    def start(self, stack: str, phase: Phase, preview: bool, gate: bool = True) -> Future[SimResult]:
        """The run of ``stack``'s program in ``phase``, started once; with the single-circuit gate,
        after the peer stack's run in the same phase (the state once both moved, as the runbook
        orders it), whose outputs answer the StackReference."""
        key = (stack, phase, preview)
        with self._lock:
            if key in self._sims:
                return self._sims[key]
        settings, cfg, peer = self._gate_peer(stack, phase, gate)
        peer_future = self.start(peer, phase, preview, gate=False) if peer else None
        return self._submit(key, settings, cfg, peer_future)

    def _submit(
        self, key: SimKey, settings: StackSettings, cfg: StackConfig, peer_future: Future[SimResult] | None
    ) -> Future[SimResult]:
        stack, phase, preview = key
        mode = "preview" if preview else "up"

        def job() -> SimResult:
            peers: dict[str, Any] = {}
            if peer_future is not None:
                assert cfg.peer_stack is not None
                peers = {cfg.peer_stack: peer_future.result().outputs}
                self.peers_used[key] = peers
            result, seconds = self.work.simulate(settings, preview, peers, self.observed)
            self.progress.report(
                f"{stack}: run the program, phase {phase.value} ({mode})", _describe_run(result), seconds
            )
            if result.error:
                raise PlanCrash(
                    f"stack '{stack}', phase {phase.value} ({mode}): the program failed: "
                    f"{result.error.strip().splitlines()[0] if result.error.strip() else 'no message'}",
                    result.error,
                )
            plan = self.plans.get(stack) or self.partners[stack]
            plan.runs[(phase, preview)] = result
            return result

        with self._lock:
            if key not in self._sims:
                self._sims[key] = self.work.waiters.submit(job)
            return self._sims[key]

    def simulate(self, stack: str, phase: Phase, preview: bool) -> SimResult:
        """One run of ``stack``'s program (waits for it)."""
        return self.start(stack, phase, preview).result()


def needs_any_peer(plan: StackPlan, phases: Iterable[Phase]) -> bool:
    for phase in phases:
        try:
            if needs_peer(stack_config(with_phase(plan.settings, phase))):
                return True
        except ConfigError:
            continue
    return False


def policy_report(
    settings: StackSettings,
    result: SimResult,
    peer_outputs: dict[str, Any],
    config: dict[str, Any] | None,
    progress: Progress,
) -> PolicyReport:
    """The real pack, started as the CLI starts it (with this stack's config in its environment),
    asked over gRPC about every resource and then the whole stack."""
    from erdr import policy_client

    mode = "preview" if result.preview else "up"

    def run() -> PolicyReport:
        report = PolicyReport(ran=True)
        try:
            env = policy_client.stack_env(settings, preview=result.preview)
            with policy_client.PolicyPackClient(env=env) as client:
                info = client.info()
                report.packs[info.name] = info.version
                client.configure(config)
                found = policy_client.check_simulation(client, result)
        except (RuntimeError, KeyError, OSError, grpc.RpcError) as exc:
            report.error = str(exc).strip() or type(exc).__name__
            return report
        report.violations = [
            PolicyViolation(info.name, info.version, d.policy, d.level, d.message, d.urn) for d in found
        ]
        return report

    return progress.run(
        f"{settings.stack}: policy pack, phase {result.outputs.get('phase', '?')} ({mode})",
        run,
        lambda r: (
            f"error: {r.error}"
            if r.error
            else f"{len(r.violations) - len(r.undecided)} findings, {len(r.mandatory)} mandatory"
        ),
    )


# --- writing ---------------------------------------------------------------------------------


def _dump(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=4, sort_keys=False) + "\n")


def _swap_into(tmp: Path, out: Path) -> None:
    """Replace ``out`` with ``tmp`` in two renames, so readers never see a half-written plan."""
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


# --- the terminal summary --------------------------------------------------------------------


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _policy_cell(report: PolicyReport) -> str:
    if report.error:
        return "not run (error)"
    if not report.ran:
        return "not run"
    mandatory = len(report.mandatory)
    waiting = len(report.undecided)
    advisory = len(report.violations) - mandatory - waiting
    notes = [f"{advisory} advisory"] if advisory else []
    notes += [f"{waiting} left to up"] if waiting else []
    return "FAIL" if mandatory else "pass" + (f" ({', '.join(notes)})" if notes else "")


def names_of(results: Iterable[SimResult]) -> dict[str, str]:
    """URN -> the name a user finds in Azure (the portal, `az`), for every resource that has one."""
    out: dict[str, str] = {}
    for result in results:
        for r in result.resources:
            azure = physical_name(r.type, r.plain_inputs)
            if azure:
                out[r.urn] = azure
    return out


def display_name(azure: str | None, logical: str) -> str:
    """The Azure name, and beside it the logical name Pulumi commands take (`--target`, state)."""
    if not azure or azure == logical:
        return logical
    return f"{azure} (Pulumi name {logical})"


def _changes(c: Comparison) -> str:
    return f"+{len(c.of('create'))} ~{len(c.of('update'))} -{len(c.of('delete'))}"


def _change_line(change: Change) -> str:
    mark = {"create": "+", "delete": "-", "update": "~"}[change.op]
    detail = f"  {change.describe()}" if change.op == "update" else ""
    name = display_name(change.physical, change.name)
    return f"  {mark} {change.op:<6} {change.type.split(':')[-1]:<32} {name}{detail}"


def _first_up(result: SimResult) -> int:
    return sum(1 for r in result.resources if r.custom and not r.read)


def _findings(plan: StackPlan, compare_phase: Phase | None, names: dict[str, str]) -> list[str]:
    """Each finding once, with the phases it was found in (the same finding in both phases is one)."""
    seen: dict[tuple[str, str, str, str], list[str]] = {}
    errors: list[str] = []
    reports = [(plan.cfg.phase, plan.policy)]
    if compare_phase is not None and plan.compare_policy is not None:
        reports.append((compare_phase, plan.compare_policy))
    for phase, report in reports:
        for v in report.violations:
            phases = seen.setdefault((v.enforcement_level, v.policy, v.urn, v.message), [])
            if phase.value not in phases:
                phases.append(phase.value)
        if report.error:
            errors.append(f"{plan.name} (phase {phase.value}): policy pack error: {report.error}")
    lines = []
    for (level, policy, urn, message), phases in seen.items():
        where = display_name(names.get(urn), urn.rsplit("::", 1)[-1]) if urn else "the stack"
        lines.append(f"{plan.name}: [{level}] {policy} on {where}, in {' and '.join(phases)}: {message}")
    return lines + errors


def provisional(plans: Sequence[StackPlan], observed: Path | None) -> list[str]:
    """What the plan judged without Azure's state: adopted resources imported with the program's
    own inputs (the real import reads Azure, and ignore_changes keeps what it finds), and an
    external source checked against its own declaration."""
    lines: list[str] = []
    hint = (
        "run `python -m erdr.discover ... --stacks-dir <dir>`, which writes observed-state.json beside the stack files"
    )
    for p in plans:
        run = p.runs.get((p.cfg.phase, True))
        if run is None:
            continue
        missing = [r.name for r in run.resources if r.observed is False]
        if missing:
            shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
            where = f"{observed} does not hold them" if observed is not None else f"no observed state: {hint}"
            lines.append(
                f"{p.name}: provisional: {len(missing)} adopted resources ({shown}) were judged on the program's "
                f"inputs, not on what Azure holds, where a real preview may find more (an NSG, a route): {where}"
            )
        if p.cfg.role is Role.TARGET and p.cfg.source.mode.value == "external" and observed is None:
            lines.append(
                f"{p.name}: provisional: the external source network was checked against its own declaration "
                f"(layout), not Azure's state: {hint}"
            )
    return lines


def summary(plans: Sequence[StackPlan], compare_phase: Phase | None) -> str:
    head = ["stack", "role", "phase", "first up creates", "policies"]
    if compare_phase is not None:
        head += [f"policies in {compare_phase.value}", f"changes in {compare_phase.value}"]
    rows = [head]
    for p in plans:
        row = [p.name, p.cfg.role.value, p.cfg.phase.value, str(_first_up(p.runs[(p.cfg.phase, True)]))]
        row.append(_policy_cell(p.policy))
        if compare_phase is not None and p.comparison is not None:
            row += [_policy_cell(p.compare_policy or PolicyReport()), _changes(p.comparison)]
        rows.append(row)
    lines = [_table(rows)]
    lines.append(
        "first up creates: Azure resources the first `pulumi up` of a new stack creates; "
        + (
            f"changes in {compare_phase.value}: +create ~update -delete once the stack's phase is "
            f"{compare_phase.value} (a new stack in that phase would create all of it)."
            if compare_phase is not None
            else ""
        ).rstrip()
    )
    for p in plans:
        c = p.comparison
        if c is None:
            continue
        lines.append("")
        if not c.changes:
            lines.append(f"{p.name}: {c.before_phase} -> {c.after_phase}: no resource changes")
            continue
        lines.append(f"{p.name}: {c.before_phase} -> {c.after_phase}")
        lines += [_change_line(ch) for ch in c.changes]
    findings: list[str] = []
    for p in plans:
        findings += _findings(p, compare_phase, names_of(p.runs.values()))
    if findings:
        lines += ["", *findings]
    return "\n".join(lines)


# --- the command -----------------------------------------------------------------------------


def _then(work: Work, future: Future[Any], fn: Callable[[Any], T]) -> Future[T]:
    """``fn(result of future)`` on a tool thread once ``future`` is done (its error passes on)."""
    out: Future[T] = Future()

    def copy(done: Future[T]) -> None:
        exc = done.exception()
        if exc is not None:
            out.set_exception(exc)
        else:
            out.set_result(done.result())

    def go(done: Future[Any]) -> None:
        exc = done.exception()
        if exc is not None:
            out.set_exception(exc)
            return
        work.tools.submit(fn, done.result()).add_done_callback(copy)

    future.add_done_callback(go)
    return out


def _render(name: str, dot: str, fmt: str, progress: Progress) -> tuple[str, bytes]:
    return f"{name}.{fmt}", progress.run(f"{name}: draw {fmt.upper()}", lambda: diagram.render(dot, fmt))


@dataclass
class _Picture:
    name: str
    plan: StackPlan
    phase: Phase
    run: Future[SimResult]
    images: list[Future[tuple[str, bytes]]] = field(default_factory=list[Future[tuple[str, bytes]]])
    dot: str = ""


def _topology(planner: Planner, plan: StackPlan, phase: Phase, result: SimResult) -> diagram.Topo:
    cfg = plan.cfg if phase is plan.cfg.phase else stack_config(with_phase(plan.settings, phase))
    partner = planner.partner_of(plan)
    peer_name = partner.name if partner is not None else _partner_name(plan.name, plan.cfg)
    default = "dr" if plan.cfg.role is Role.SOURCE else "prod"
    return diagram.topology(cfg, plan.name, result, peer_name or default, partner.cfg if partner else None)


def run_plan(
    opts: Options,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    quiet: bool = False,
    work: Work | None = None,
) -> int:
    progress = Progress(0, stderr, quiet)
    planner = Planner(opts, progress)
    planner.prepare()
    jobs = opts.jobs or auto_jobs(p.cfg for p in planner.plans.values())
    planner.work = work or Work(jobs)
    try:
        return _run(opts, progress, planner, stdout)
    finally:
        planner.work.close()


def _run(opts: Options, progress: Progress, planner: Planner, stdout: TextIO) -> int:
    work = planner.work
    compare_phase = opts.compare_phase
    pair = planner.runbook_pair()
    plans = list(planner.plans.values())

    # Every run: first what the pictures and the policy packs need (the configured phase, then the
    # compared one), the runbook's other phases last, so drawing and checking overlap them; the
    # heaviest stacks first within each (the target builds the drill network and Site Recovery too).
    heavy_first = sorted(plans, key=lambda p: p.cfg.role is not Role.TARGET)
    wanted: list[SimKey] = []
    for plan in heavy_first:
        wanted += [(plan.name, plan.cfg.phase, True), (plan.name, plan.cfg.phase, False)]
    if compare_phase is not None:
        wanted += [(plan.name, compare_phase, False) for plan in heavy_first]
    if pair is not None:
        wanted += [(plan.name, ph, False) for ph in Phase for plan in heavy_first]
    sims = list(dict.fromkeys(k for key in wanted for k in planner.sim_keys(*key)))
    policies = (2 if compare_phase is not None else 1) * len(plans) if opts.policy else 0
    images = 2 * (2 if compare_phase is not None else 1) * len(plans) if opts.images else 0
    progress.total = len(sims) + policies + images

    futures = {key: planner.start(*key) for key in dict.fromkeys(wanted)}
    reports: dict[tuple[str, Phase], Future[PolicyReport]] = {}
    pictures: list[_Picture] = []
    for plan in plans:
        phase = plan.cfg.phase
        checked = [(phase, True)] + ([(compare_phase, False)] if compare_phase is not None else [])
        for ph, preview in checked if opts.policy else []:
            key = (plan.name, ph, preview)
            settings = with_phase(plan.settings, ph)
            reports[(plan.name, ph)] = _then(
                work,
                futures[key],
                lambda result, settings=settings, key=key: policy_report(
                    settings, result, planner.peers_used.get(key, {}), opts.policy_config, progress
                ),
            )
        drawn = [(plan.name, phase)]
        if compare_phase is not None:
            drawn.append((f"{plan.name}-{compare_phase.value}", compare_phase))
        for name, ph in drawn:
            picture = _Picture(name, plan, ph, futures[(plan.name, ph, False)])
            pictures.append(picture)

            def draw(result: SimResult, picture: _Picture = picture) -> str:
                picture.dot = diagram.to_dot(_topology(planner, picture.plan, picture.phase, result))
                return picture.dot

            dot = _then(work, picture.run, draw)
            if opts.images:
                for fmt in ("svg", "png"):
                    picture.images.append(
                        _then(work, dot, lambda text, name=name, fmt=fmt: _render(name, text, fmt, progress))
                    )
            else:
                picture.images.append(_then(work, dot, lambda _text: ("", b"")))

    # Wait for everything; the first failure (a program error, a renderer error) ends the plan.
    for future in [*futures.values(), *reports.values(), *(f for p in pictures for f in p.images)]:
        future.result()
    for plan in plans:
        phase = plan.cfg.phase
        if opts.policy:
            plan.policy = reports[(plan.name, phase)].result()
        if compare_phase is not None:
            plan.comparison = compare(
                with_phase(plan.settings, compare_phase),
                plan.runs[(phase, False)],
                plan.runs[(compare_phase, False)],
                phase.value,
                compare_phase.value,
                show_sames=opts.show_sames,
            )
            if opts.policy:
                plan.compare_policy = reports[(plan.name, compare_phase)].result()
    runbook: str | None = None
    if pair is not None:
        made = [dr_runbook.StackRuns(p.settings, p.cfg, {ph: p.runs[(ph, False)] for ph in Phase}) for p in pair]
        runbook = dr_runbook.render(made[0], made[1])

    opts.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{opts.out.name}-", dir=opts.out.parent))
    written: list[str] = []
    try:
        for plan in plans:
            phase = plan.cfg.phase
            _dump(
                tmp / f"{plan.name}.json",
                preview_digest(plan.settings, plan.runs[(phase, True)], policy=plan.policy if opts.policy else None),
            )
            _dump(tmp / f"{plan.name}.state.json", stack_export(plan.settings, plan.runs[(phase, False)]))
            written += [f"{plan.name}.json", f"{plan.name}.state.json"]
            for picture in (p for p in pictures if p.plan is plan):
                if picture.phase is not phase and plan.comparison is not None and compare_phase is not None:
                    digest = dict(plan.comparison.digest)
                    if plan.compare_policy is not None:
                        digest["policyPacks"] = dict(plan.compare_policy.packs)
                        digest["policyViolations"] = [v.as_json() for v in plan.compare_policy.violations]
                    _dump(tmp / f"{plan.name}.{compare_phase.value}.json", digest)
                    written.append(f"{plan.name}.{compare_phase.value}.json")
                (tmp / f"{picture.name}.dot").write_text(picture.dot)
                written.append(f"{picture.name}.dot")
                for image in picture.images:
                    file, data = image.result()
                    if file:
                        (tmp / file).write_bytes(data)
                        written.append(file)
        if runbook is not None and pair is not None:
            name = f"{pair[1].name}-runbook.md"
            (tmp / name).write_text(runbook)
            written.append(name)
        _swap_into(tmp, opts.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    stdout.write(summary(plans, compare_phase) + "\n")
    for line in provisional(plans, planner.observed_path):
        stdout.write(line + "\n")
    try:
        shown = opts.out.relative_to(Path.cwd())
    except ValueError:
        shown = opts.out
    stdout.write(f"\nwrote {shown}/: {', '.join(written)}\n")
    if pair is None and opts.runbook:
        stdout.write("runbook skipped: it needs the source and the target stack in the same run\n")
    broken = [
        p.name for p in plans if p.policy.error or (p.compare_policy is not None and p.compare_policy.error is not None)
    ]
    if broken:
        details = "\n".join(
            line for p in plans for line in _findings(p, compare_phase, {}) if "policy pack error" in line
        )
        raise PlanCrash(f"the policy pack could not run for: {', '.join(broken)}", details)
    failed = [
        p.name for p in plans if p.policy.mandatory or (p.compare_policy is not None and p.compare_policy.mandatory)
    ]
    if failed:
        stdout.write(f"mandatory policy failed for: {', '.join(failed)}\n")
        return EXIT_POLICY
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m erdr.plan",
        description="Offline plan of the stacks: preview JSON, state export, policies, phase diff, "
        "diagrams and the DR runbook, from the config alone (no cloud account, no Pulumi CLI). "
        "Exit status: 0 planned, 1 a mandatory policy failed, 2 bad config or arguments (nothing "
        "written), 3 anything else (details in <out>/traceback.txt).",
    )
    parser.add_argument(
        "--stack",
        action="append",
        dest="stacks",
        metavar="NAME",
        help="stack to plan (repeatable; default: prod and dr)",
    )
    parser.add_argument(
        "--stack-file", type=Path, help="read the (single) --stack from this file instead of Pulumi.<stack>.yaml"
    )
    parser.add_argument(
        "--stacks-dir",
        type=Path,
        help="read Pulumi.<stack>.yaml from this directory (e.g. examples/single-circuit-same-ip)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config key on every stack, as `pulumi config set --path KEY VALUE --stack <stack>` "
        "would: in the stack file, where a key replaces Pulumi.yaml's whole value (a warning says when). KEY "
        "is a path (routingWeights.preferred, 'recoveryPlan.bootGroups[0].items[0]', [\"a.b\"]), optionally "
        "namespace:-prefixed; VALUE true/false and integers are typed below the top level; not the CLI's: "
        "{...} or [...] is JSON, null removes the key (`pulumi config rm --path`)",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="not a CLI command: change KEY in the config every stack's program reads (Pulumi.yaml's value "
        "merged with the stack file's), as if the file holding it said so; same KEY and VALUE syntax as --set, "
        "e.g. --override circuits.secondary=null",
    )
    parser.add_argument(
        "--stack-set",
        action="append",
        nargs=2,
        default=[],
        metavar=("STACK", "KEY=VALUE"),
        help="like --set, on STACK only (after the --set values), e.g. --stack-set dr peerStack=org/expressroute-dr/prod",
    )
    parser.add_argument(
        "--compare-phase",
        default=Phase.FAILOVER.value,
        choices=[p.value for p in Phase] + ["none"],
        help="phase to compare each stack's configured phase with (default: failover)",
    )
    parser.add_argument(
        "--observed-state",
        type=Path,
        metavar="FILE",
        help=f"what Azure returned for the existing estate (erdr.discover writes {OBSERVED_STATE} beside the stack "
        "files; read from there by default): adopted resources are imported from it, as the real import reads "
        "Azure, and an external source is checked against it; without it those verdicts are provisional",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: build/plan)")
    parser.add_argument("--no-images", action="store_true", help="write the DOT sources but no SVG/PNG")
    parser.add_argument("--no-policy", action="store_true", help="do not run the policy pack")
    parser.add_argument(
        "--policy-pack-config",
        type=Path,
        metavar="FILE",
        help="JSON config for the pack, as `pulumi preview --policy-pack-config` takes it",
    )
    parser.add_argument("--no-runbook", action="store_true", help="do not write the runbook")
    parser.add_argument(
        "--show-sames",
        action="store_true",
        help="list unchanged resources in the phase comparison's steps too (as `pulumi preview --show-sames`)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help=f"program runs at once, in worker processes (default: the CPUs available, here {default_jobs()}, "
        f"for a layout of {PARALLEL_FROM_VNETS} VNets or more; one process below)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _read_policy_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanError(f"--policy-pack-config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise PlanError(f"--policy-pack-config {path}: expected a JSON object of policy name -> level or settings")
    return data


def options_from(args: argparse.Namespace) -> Options:
    stacks = list(dict.fromkeys(args.stacks or DEFAULT_STACKS))
    if args.stack_file is not None and len(stacks) != 1:
        raise PlanError("--stack-file needs exactly one --stack (the stack it holds)")
    if args.stack_file is not None and args.stacks_dir is not None:
        raise PlanError("use --stack-file or --stacks-dir, not both")
    overrides = [*parse_set(args.set), *parse_set(args.override, scope=MERGED)]
    for item in overrides:
        if item.key.namespace != NAMESPACE and item.key.namespace in {*stacks, *DEFAULT_STACKS}:
            key = item.text.split(":", 1)[1]
            raise PlanError(
                f"{'--set' if item.scope == STACK_FILE else '--override'} {show(item.text)}: "
                f"'{item.key.namespace}' is a stack, not a config namespace; "
                f"to set a key on one stack: --stack-set {item.key.namespace} {key}"
            )
    per_stack: dict[str, list[Override]] = {}
    for stack, item in args.stack_set:
        per_stack.setdefault(stack, []).extend(parse_set([item]))
    if args.jobs is not None and args.jobs < 1:
        raise PlanError(f"--jobs {args.jobs}: needs at least 1")
    return Options(
        stacks=stacks,
        stack_file=args.stack_file,
        stacks_dir=args.stacks_dir,
        overrides=overrides,
        stack_overrides=per_stack,
        compare_phase=None if args.compare_phase == "none" else Phase(args.compare_phase),
        out=args.out.resolve(),
        images=not args.no_images,
        policy=not args.no_policy,
        policy_config=_read_policy_config(args.policy_pack_config),
        runbook=not args.no_runbook,
        jobs=args.jobs,
        show_sames=args.show_sames,
        observed_state=args.observed_state,
    )


def _crash(out: Path, message: str, details: str, stderr: TextIO) -> int:
    """Exit 3: one line on the terminal, the details in a file (the plan itself is left as it was)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / CRASH_FILE).write_text(details.rstrip() + "\n")
        where = f" (details in {out / CRASH_FILE})"
    except OSError:
        where = ""
    stderr.write(f"\nerror: {message.splitlines()[0] if message else 'unexpected failure'}{where}\n")
    return EXIT_CRASH


def main(argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    out = args.out.resolve()
    try:
        opts = options_from(args)
        return run_plan(opts, stdout, stderr, quiet=args.quiet)
    except (PlanError, ConfigError) as exc:
        stderr.write(f"\nerror: {exc}\nnothing was written.\n")
        return EXIT_CONFIG
    except PlanCrash as exc:
        return _crash(out, str(exc), exc.details, stderr)
    except diagram.RenderError as exc:
        return _crash(out, f"drawing the diagrams failed: {exc}", str(exc), stderr)
    except Exception as exc:  # noqa: BLE001 - exit 3 with the traceback in a file, not on the terminal
        return _crash(out, f"{type(exc).__name__}: {exc}", traceback.format_exc(), stderr)


if __name__ == "__main__":
    sys.exit(main())
