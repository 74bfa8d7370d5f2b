"""Offline plan: what each stack builds, whether the policies pass, what a phase change does, the
network as a picture and the DR runbook, with no cloud account, no Pulumi CLI and no network.

    python -m erdr.plan                                  # prod and dr, compared with failover
    python -m erdr.plan --stack dr --compare-phase failback
    python -m erdr.plan --stack dr --stack-file my/Pulumi.dr.yaml --set drill.enabled=false
    python -m erdr.plan --stacks-dir examples/single-circuit-same-ip

The real ``__main__.py`` runs under Pulumi's mock runtime (:mod:`erdr.simulate`), the real policy
pack answers over its analyzer gRPC interface (:mod:`erdr.policy_client`), and everything is
written to a temporary directory that replaces ``build/plan/`` only when the whole run succeeded.

Exit codes: 0 plan written; 1 plan written but a mandatory policy failed; 2 bad config, bad
arguments or a program error (nothing written).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import grpc
import yaml

from erdr import diagram, dr_runbook
from erdr.plan_json import (
    Comparison,
    PolicyReport,
    PolicyViolation,
    compare,
    preview_digest,
    stack_export,
)
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, StackSettings, load_stack, stack_config
from model.config import ConfigError, Phase, Role, StackConfig
from model.phases import connection_plan
from policies.shared.names import NAMESPACE

DEFAULT_STACKS: tuple[str, ...] = ("prod", "dr")
DEFAULT_OUT = PROJECT_DIR / "build" / "plan"
EXIT_OK, EXIT_POLICY, EXIT_ERROR = 0, 1, 2


class PlanError(Exception):
    """A problem the user fixes (config, arguments, a missing file); the message says how."""


# --- inputs ----------------------------------------------------------------------------------


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``--set a.b=v``: the value is read as YAML, as in a stack file (``200``, ``true``,
    ``null``, ``[10.1.0.0/24]``); the key may carry the ``expressroute-dr:`` namespace."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().removeprefix(NAMESPACE + ":")
        if not sep or not key:
            raise PlanError(f"--set {item!r}: expected key=value (e.g. --set topology=single-circuit)")
        try:
            out[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise PlanError(f"--set {item!r}: the value is not valid YAML ({exc})") from None
    return out


def with_phase(settings: StackSettings, phase: Phase) -> StackSettings:
    config = dict(settings.config)
    config["phase"] = phase.value
    return StackSettings(settings.project, settings.stack, config, set(settings.secret_keys))


@dataclass
class Options:
    stacks: list[str]
    stack_file: Path | None = None
    stacks_dir: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict[str, Any])
    compare_phase: Phase | None = Phase.FAILOVER
    out: Path = DEFAULT_OUT
    images: bool = True
    policy: bool = True
    policy_config: dict[str, Any] | None = None
    runbook: bool = True
    show_sames: bool = False


def _stack_path(opts: Options, stack: str) -> Path:
    if opts.stack_file is not None and stack == opts.stacks[0]:
        return opts.stack_file
    base = opts.stacks_dir or (opts.stack_file.parent if opts.stack_file is not None else PROJECT_DIR)
    return base / f"Pulumi.{stack}.yaml"


def load_settings(opts: Options, stack: str) -> StackSettings:
    path = _stack_path(opts, stack)
    if not path.is_file():
        raise PlanError(f"stack '{stack}': no stack file {path}")
    try:
        return load_stack(stack, stack_file=path, overrides=dict(opts.overrides))
    except yaml.YAMLError as exc:
        raise PlanError(f"stack '{stack}': {path} is not valid YAML: {exc}") from None


# --- running ---------------------------------------------------------------------------------


T = TypeVar("T")


class Progress:
    """One line per unit of work on stderr, so a CI log shows where the time goes."""

    def __init__(self, total: int, stream: TextIO, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.quiet = quiet

    def run(self, what: str, fn: Callable[[], T], describe: Callable[[T], str] = lambda _: "") -> T:
        self.done += 1
        if not self.quiet:
            self.total = max(self.total, self.done)
            self.stream.write(f"plan [{self.done}/{self.total}] {what} ...")
            self.stream.flush()
        start = time.perf_counter()
        value = fn()
        if not self.quiet:
            extra = describe(value)
            self.stream.write(f" {extra + ', ' if extra else ''}{time.perf_counter() - start:.1f}s\n")
            self.stream.flush()
        return value


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


class Planner:
    def __init__(self, opts: Options, progress: Progress) -> None:
        self.opts = opts
        self.progress = progress
        self.plans: dict[str, StackPlan] = {}
        self._peer_settings: dict[str, StackSettings] = {}
        self._peer_cache: dict[str, dict[tuple[Phase, bool], SimResult]] = {}
        # (stack, phase, preview) -> the peer outputs its StackReference was answered with
        self.peers_used: dict[tuple[str, Phase, bool], dict[str, Any]] = {}

    def settings_for(self, stack: str) -> StackSettings:
        if stack in self.plans:
            return self.plans[stack].settings
        if stack not in self._peer_settings:
            self._peer_settings[stack] = load_settings(self.opts, stack)
        return self._peer_settings[stack]

    def _peer_outputs(self, cfg: StackConfig, phase: Phase, preview: bool) -> dict[str, Any]:
        """The peer stack's outputs in the same phase, for the single-circuit gate's
        StackReference: the plan shows both stacks after each has moved to that phase."""
        if not cfg.peer_stack:
            return {}
        peer = cfg.peer_stack.rsplit("/", 1)[-1]
        result = self.simulate(peer, phase, preview, need_peer=False)
        if result.error:
            raise PlanError(f"peer stack '{peer}' (peerStack of this stack) failed: {result.error}")
        return {cfg.peer_stack: result.outputs}

    def simulate(self, stack: str, phase: Phase, preview: bool, need_peer: bool = True) -> SimResult:
        plan = self.plans.get(stack)
        cache = plan.runs if plan is not None else self._peer_cache.setdefault(stack, {})
        key = (phase, preview)
        if key in cache:
            return cache[key]
        settings = with_phase(self.settings_for(stack), phase)
        mode = "preview" if preview else "up"
        peers: dict[str, Any] = {}
        if need_peer and needs_peer(stack_config(settings)):
            peers = self._peer_outputs(stack_config(settings), phase, preview)
            self.peers_used[(stack, phase, preview)] = peers
        result = self.progress.run(
            f"{stack}: run the program, phase {phase.value} ({mode})",
            lambda: simulate(settings, preview=preview, peer_outputs=peers),
            _describe_run,
        )
        if result.error:
            raise PlanError(f"stack '{stack}', phase {phase.value}: the program failed:\n{result.error}")
        cache[key] = result
        return result

    def prepare(self) -> None:
        problems: list[str] = []
        for stack in self.opts.stacks:
            settings = load_settings(self.opts, stack)
            try:
                cfg = stack_config(settings)
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            self.plans[stack] = StackPlan(settings, cfg)
        if problems:
            raise PlanError("\n".join(problems))


def _phases_for_runbook(plans: dict[str, StackPlan]) -> tuple[StackPlan, StackPlan] | None:
    source = [p for p in plans.values() if p.cfg.role is Role.SOURCE]
    target = [p for p in plans.values() if p.cfg.role is Role.TARGET]
    return (source[0], target[0]) if len(source) == 1 and len(target) == 1 else None


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


def _write_diagram(out: Path, name: str, topo: diagram.Topo, images: bool, progress: Progress) -> list[str]:
    dot = diagram.to_dot(topo)
    (out / f"{name}.dot").write_text(dot)
    written = [f"{name}.dot"]
    if images:
        for fmt in ("svg", "png"):
            data = progress.run(f"{name}: draw {fmt.upper()}", lambda fmt=fmt: diagram.render(dot, fmt))
            (out / f"{name}.{fmt}").write_bytes(data)
            written.append(f"{name}.{fmt}")
    return written


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


def summary(plans: Sequence[StackPlan], compare_phase: Phase | None) -> str:
    head = ["stack", "role", "phase", "resources", "policies"]
    if compare_phase is not None:
        head += [f"policies in {compare_phase.value}", "create", "update", "delete"]
    rows = [head]
    for p in plans:
        result = p.runs[(p.cfg.phase, True)]
        row = [
            p.name,
            p.cfg.role.value,
            p.cfg.phase.value,
            str(sum(1 for r in result.resources if r.custom and not r.read)),
            _policy_cell(p.policy),
        ]
        if compare_phase is not None and p.comparison is not None:
            c = p.comparison
            row += [_policy_cell(p.compare_policy or PolicyReport())]
            row += [str(len(c.of("create"))), str(len(c.of("update"))), str(len(c.of("delete")))]
        rows.append(row)
    lines = [_table(rows)]
    for p in plans:
        if p.comparison is None or not p.comparison.changes:
            continue
        c = p.comparison
        lines.append("")
        lines.append(f"{p.name}: {c.before_phase} -> {c.after_phase}")
        for ch in c.changes:
            mark = {"create": "+", "delete": "-", "update": "~"}[ch.op]
            detail = f"  {ch.describe()}" if ch.op == "update" else ""
            lines.append(f"  {mark} {ch.op:<6} {ch.type.split(':')[-1]:<32} {ch.name}{detail}")
    for p in plans:
        for label, report in (("", p.policy), (" (compared phase)", p.compare_policy)):
            if report is None:
                continue
            for v in report.violations:
                where = v.urn.rsplit("::", 1)[-1] if v.urn else "stack"
                lines.append(f"{p.name}{label}: [{v.enforcement_level}] {v.policy} ({where}): {v.message}")
            if report.error:
                lines.append(f"{p.name}{label}: policy pack error: {report.error}")
    return "\n".join(lines)


# --- the command -----------------------------------------------------------------------------


def _count_work(opts: Options, plans: Sequence[StackPlan], both: bool) -> int:
    """How many progress lines a run prints (a peer stack run for the single-circuit gate adds more)."""
    total = 0
    for plan in plans:
        ups = {plan.cfg.phase}
        if opts.compare_phase is not None:
            ups.add(opts.compare_phase)
        if both and opts.runbook:
            ups |= set(Phase)
        total += 1 + len(ups)  # the preview run and the `up` runs
        compared = opts.compare_phase is not None
        total += (2 if compared else 1) if opts.policy else 0
        total += (4 if compared else 2) if opts.images else 0
    return total


def run_plan(opts: Options, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr, quiet: bool = False) -> int:
    progress = Progress(0, stderr, quiet)
    planner = Planner(opts, progress)
    planner.prepare()
    both = _phases_for_runbook(planner.plans) is not None
    progress.total = _count_work(opts, list(planner.plans.values()), both)
    compare_phase = opts.compare_phase
    for plan in planner.plans.values():
        phase = plan.cfg.phase
        preview = planner.simulate(plan.name, phase, True)
        planner.simulate(plan.name, phase, False)
        if opts.policy:
            peers = planner.peers_used.get((plan.name, phase, True), {})
            plan.policy = policy_report(plan.settings, preview, peers, opts.policy_config, progress)
        if compare_phase is not None:
            after = planner.simulate(plan.name, compare_phase, False)
            plan.comparison = compare(
                with_phase(plan.settings, compare_phase),
                plan.runs[(phase, False)],
                after,
                phase.value,
                compare_phase.value,
                show_sames=opts.show_sames,
            )
            if opts.policy:
                peers = planner.peers_used.get((plan.name, compare_phase, False), {})
                plan.compare_policy = policy_report(
                    with_phase(plan.settings, compare_phase), after, peers, opts.policy_config, progress
                )
    pair = _phases_for_runbook(planner.plans)
    stack_runs: tuple[dr_runbook.StackRuns, dr_runbook.StackRuns] | None = None
    if pair is not None and opts.runbook:
        made = []
        for plan in pair:
            runs = {ph: planner.simulate(plan.name, ph, False) for ph in Phase}
            made.append(dr_runbook.StackRuns(plan.settings, plan.cfg, runs))
        stack_runs = (made[0], made[1])

    opts.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{opts.out.name}-", dir=opts.out.parent))
    written: list[str] = []
    try:
        for plan in planner.plans.values():
            phase = plan.cfg.phase
            _dump(
                tmp / f"{plan.name}.json",
                preview_digest(plan.settings, plan.runs[(phase, True)], policy=plan.policy if opts.policy else None),
            )
            _dump(tmp / f"{plan.name}.state.json", stack_export(plan.settings, plan.runs[(phase, False)]))
            written += [f"{plan.name}.json", f"{plan.name}.state.json"]
            peer = _peer_name(plan, planner)
            topo = diagram.topology(plan.cfg, plan.name, plan.runs[(phase, False)], peer)
            written += _write_diagram(tmp, plan.name, topo, opts.images, progress)
            if plan.comparison is not None and compare_phase is not None:
                digest = dict(plan.comparison.digest)
                if plan.compare_policy is not None:
                    digest["policyPacks"] = dict(plan.compare_policy.packs)
                    digest["policyViolations"] = [v.as_json() for v in plan.compare_policy.violations]
                _dump(tmp / f"{plan.name}.{compare_phase.value}.json", digest)
                written.append(f"{plan.name}.{compare_phase.value}.json")
                after_cfg = stack_config(with_phase(plan.settings, compare_phase))
                after_topo = diagram.topology(after_cfg, plan.name, plan.runs[(compare_phase, False)], peer)
                written += _write_diagram(tmp, f"{plan.name}-{compare_phase.value}", after_topo, opts.images, progress)
        if stack_runs is not None:
            name = f"{stack_runs[1].name}-runbook.md"
            (tmp / name).write_text(dr_runbook.render(*stack_runs))
            written.append(name)
        _swap_into(tmp, opts.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    plans = list(planner.plans.values())
    stdout.write(summary(plans, compare_phase) + "\n")
    try:
        shown = opts.out.relative_to(Path.cwd())
    except ValueError:
        shown = opts.out
    stdout.write(f"\nwrote {shown}/: {', '.join(written)}\n")
    if pair is None and opts.runbook:
        stdout.write("runbook skipped: it needs the source and the target stack in the same run\n")
    failed = [
        p.name
        for p in plans
        if (
            p.policy.mandatory
            or p.policy.error
            or (p.compare_policy and (p.compare_policy.mandatory or p.compare_policy.error))
        )
    ]
    if failed:
        stdout.write(f"mandatory policy failed (or the pack could not run) for: {', '.join(failed)}\n")
        return EXIT_POLICY
    return EXIT_OK


def _peer_name(plan: StackPlan, planner: Planner) -> str:
    role = Role.TARGET if plan.cfg.role is Role.SOURCE else Role.SOURCE
    for other in planner.plans.values():
        if other.cfg.role is role:
            return other.name
    if plan.cfg.peer_stack:
        return plan.cfg.peer_stack.rsplit("/", 1)[-1]
    return "dr" if role is Role.TARGET else "prod"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m erdr.plan",
        description="Offline plan of the stacks: preview JSON, state export, policies, phase diff, "
        "diagrams and the DR runbook, from the config alone (no cloud account, no Pulumi CLI).",
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
        help="override a config key for every planned stack (dotted path; value read as YAML), "
        "e.g. --set topology=single-circuit --set routingWeights.preferred=200",
    )
    parser.add_argument(
        "--compare-phase",
        default=Phase.FAILOVER.value,
        choices=[p.value for p in Phase] + ["none"],
        help="phase to compare each stack's configured phase with (default: failover)",
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
    return Options(
        stacks=stacks,
        stack_file=args.stack_file,
        stacks_dir=args.stacks_dir,
        overrides=parse_set(args.set),
        compare_phase=None if args.compare_phase == "none" else Phase(args.compare_phase),
        out=args.out.resolve(),
        images=not args.no_images,
        policy=not args.no_policy,
        policy_config=_read_policy_config(args.policy_pack_config),
        runbook=not args.no_runbook,
        show_sames=args.show_sames,
    )


def main(argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    try:
        opts = options_from(args)
        return run_plan(opts, stdout, stderr, quiet=args.quiet)
    except (PlanError, ConfigError) as exc:
        stderr.write(f"\nerror: {exc}\nnothing was written.\n")
        return EXIT_ERROR
    except diagram.RenderError as exc:
        stderr.write(f"\nerror: {exc}\nnothing was written.\n")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
