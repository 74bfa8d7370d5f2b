"""The docs are tested: every command README.md, docs/*.md and examples/README.md show is run, in
a fresh copy of the repository, unless a rule below says why it cannot run here.

Commands are the lines of ``sh``/``bash`` code blocks (a block that calls the Pulumi CLI or the
Azure CLI anywhere belongs together and is matched as a whole) and inline code that starts with
``make`` or runs an ``erdr`` module. Each runs in its own copy of the working tree (what a
``git clone`` of it would hold: tracked and new files, nothing ignored) with the project's
virtualenv, and must exit 0, write what the docs say it writes (``erdr.plan``: its files, read from
its own argument parser) and leave the tree as it found it. Every rule must match a command (no
stale rule) and nothing that needs the CLI may be run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from erdr import plan
from erdr.stackfiles import PROJECT_DIR
from tests.helpers import clone_files

DOCS = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md")), PROJECT_DIR / "examples" / "README.md"]
SHELLS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
INLINE = re.compile(r"`((?:make [a-z-]+|cp |(?:\.venv/bin/)?python -m erdr\.)[^`]*)`")
COMMENT = re.compile(r"\s+#\s.*$")  # `make plan   # the main job`: bash drops it; so does the matching
CLI_WORD = re.compile(r"(?:^|[;&|(]|\$\(|\bdo\b)\s*(?:[A-Z_]+=\S+\s+)*(pulumi|az)\b", re.M)


@dataclass
class Command:
    text: str
    where: list[str] = field(default_factory=list[str])
    block: str = ""  # the whole code block it came from, for rules about blocks


def _logical_lines(body: str) -> list[str]:
    """Lines with their backslash continuations joined; comments and blank lines dropped."""
    out: list[str] = []
    current = ""
    for raw in body.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        out.append(COMMENT.sub("", current + line).strip())
        current = ""
    return out


def extract() -> list[Command]:
    found: dict[str, Command] = {}

    def add(text: str, where: str, block: str = "") -> None:
        command = found.setdefault(text, Command(text, block=block))
        command.where.append(where)
        command.block = command.block or block

    for doc in DOCS:
        text = doc.read_text()
        name = doc.relative_to(PROJECT_DIR).as_posix()
        for m in FENCE.finditer(text):
            info = m["info"].strip().split()
            if not info or info[0] not in SHELLS:
                continue
            line = text[: m.start()].count("\n") + 1
            body = "\n".join(row[len(m["indent"]) :] for row in m["body"].splitlines())
            if CLI_WORD.search(body) or re.search(r"^\s*for\b", body, re.M):
                add(body.strip(), f"{name}:{line}", body)  # one script: it belongs together
                continue
            for command in _logical_lines(body):
                add(command, f"{name}:{line}", body)
        prose = FENCE.sub("", text)
        for m in INLINE.finditer(prose):
            add(m[1].strip(), f"{name} (inline)")
    return list(found.values())


@dataclass(frozen=True)
class Rule:
    reason: str
    matches: Callable[[Command], bool]


RULES = [
    Rule(
        "needs the Pulumi CLI or Azure and an account (`erdr.failover` drives the CLI, `erdr.discover` and "
        "`erdr.check` read Azure Resource Manager; their logic is tested offline in tests/tooling/)",
        lambda c: (
            bool(CLI_WORD.search(c.block or c.text))
            or re.search(r"erdr\.(failover|discover|check)\b", c.text) is not None
        ),
    ),
    Rule(
        "is the suite this test belongs to",
        lambda c: bool(re.fullmatch(r"make (test|lint|typecheck|unit)(?: WORKERS=\S+)?", c.text)),
    ),
    Rule(
        "takes about five minutes on two cores; its smoke form `python -m erdr.bench --quick --runs 1` runs here",
        lambda c: (
            c.text == "make bench" or (re.search(r"erdr\.bench\b", c.text) is not None and "--quick" not in c.text)
        ),
    ),
    Rule(
        "publishes the figures of a `make bench` run into docs/ on purpose: it needs that run and "
        "changes the tree by design",
        lambda c: c.text.startswith("cp build/bench/"),
    ),
    Rule(
        "is the command `make plan` runs (its recipe, checked by "
        "test_make_plan_is_the_plain_planner_command), and `make plan` runs here",
        lambda c: re.fullmatch(r"(?:\.venv/bin/)?python -m erdr\.plan", c.text) is not None,
    ),
    Rule(
        "is a template: the reader fills in the <placeholders>",
        lambda c: re.search(r"<[a-z-]+>", c.text) is not None,
    ),
]
COMMANDS = extract()


def rule_for(command: Command) -> Rule | None:
    return next((r for r in RULES if r.matches(command)), None)


RUN = [c for c in COMMANDS if rule_for(c) is None]


def test_every_rule_skips_something_and_every_skip_has_a_rule() -> None:
    for rule in RULES:
        assert any(rule_for(c) is rule for c in COMMANDS), f"stale rule: {rule.reason}"
    assert len(RUN) >= 8, [c.text for c in RUN]
    for command in RUN:
        assert not CLI_WORD.search(command.text), command.text


# What an outer make hands its recipes (`make test WORKERS=4` runs pytest with MAKEFLAGS holding
# WORKERS=4 and its jobserver): a command a user types in a shell has none of it.
OUTER_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def shell_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in OUTER_MAKE}


def make_dry_run(target: str, *variables: str) -> str:
    """The last command `make -n <target>` would run in the project (after any set-up it needs)."""
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", target, *variables],
        cwd=PROJECT_DIR,
        env=shell_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    return dry.stdout.strip().splitlines()[-1]


def test_make_plan_is_the_plain_planner_command() -> None:
    """What lets the docs test run `make plan` and skip `python -m erdr.plan`: make's recipe for
    `plan` (after its set-up prerequisites) is exactly that command in the project's virtualenv."""
    assert make_dry_run("plan") == ".venv/bin/python -m erdr.plan"
    assert any(c.text == "make plan" for c in RUN)


def test_the_readme_names_the_worker_count_make_test_uses_and_how_to_change_it() -> None:
    """The README says how many pytest workers `make test` starts and that `WORKERS=N` changes it:
    make's own dry run of `unit` (what `make test` runs beside the linters) must agree."""
    readme = " ".join((PROJECT_DIR / "README.md").read_text().split())
    stated = re.search(r"pytest, which runs on (\d+) worker processes", readme)
    assert stated and "`make test WORKERS=N`" in readme, "README: the pytest worker count of `make test`"
    default, five = make_dry_run("unit"), make_dry_run("unit", "WORKERS=5")
    assert default.startswith(f".venv/bin/pytest -n {stated[1]} "), default
    assert five.startswith(".venv/bin/pytest -n 5 "), five


def test_the_suite_run_as_make_test_workers_n_reads_make_as_a_shell_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test WORKERS=4` (the README's own advice) runs pytest under MAKEFLAGS that carry
    WORKERS=4; the dry runs above once read that instead of the Makefile's default and failed
    (as would the docs test's `make plan`, had it been handed them)."""
    default = make_dry_run("unit")
    monkeypatch.setenv("MAKEFLAGS", " -- WORKERS=97")
    monkeypatch.setenv("MAKELEVEL", "1")
    assert make_dry_run("unit") == default
    assert "-n 97 " not in default


# --- the fresh copy ---------------------------------------------------------------------------------


def fresh_copy(dest: Path) -> Path:
    """The working tree as a clone of it would hold it (tracked and new files, nothing ignored),
    committed, so `git status` shows what a command changed; `.venv` is this interpreter's and
    `policies/venv` the pack's (both ignored, so the commit leaves them out).

    Each module's bytecode comes along when the project already holds it: a clone compiles it on
    its first run (about 0.4 s of CPU per `erdr.plan`, paid again in every copy here), and that
    changes nothing a command does. Python takes a ``.pyc`` only while its recorded source mtime
    and size match the ``.py`` (PEP 552's default, timestamp-based validation), which the copy
    keeps, so a stale one is recompiled as in any checkout; ``__pycache__`` is ignored, so the
    commit and ``git status`` never see it."""
    for rel in clone_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_DIR / rel, dest / rel)  # mtimes kept: make sees the virtualenv as up to date
        if rel.endswith(".py") and not rel.startswith("tests/"):
            cached = Path(importlib.util.cache_from_source(str(PROJECT_DIR / rel)))
            if cached.is_file():
                target = Path(importlib.util.cache_from_source(str(dest / rel)))
                target.parent.mkdir(exist_ok=True)
                shutil.copy2(cached, target)
    (dest / ".venv").symlink_to(Path(sys.prefix))
    (dest / "policies" / "venv").symlink_to(PROJECT_DIR / "policies" / "venv")
    git = ["git", "-c", "user.name=docs-test", "-c", "user.email=docs-test@invalid", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "docs test"], cwd=dest, check=True)
    return dest


def expected_files(command: str, root: Path) -> tuple[Path, set[str]]:
    """Where an `erdr.plan` command writes and which files, from the planner's own parser."""
    words = shlex.split(command)
    argv = words[words.index("erdr.plan") + 1 :] if "erdr.plan" in words else []
    args = plan.build_parser().parse_args(argv)
    stacks = list(dict.fromkeys(args.stacks or plan.DEFAULT_STACKS))
    out = (root / args.out) if args.out != plan.DEFAULT_OUT else root / "build" / "plan"
    names: set[str] = set()
    for stack in stacks:
        pictures = [stack] + ([f"{stack}-{args.compare_phase}"] if args.compare_phase != "none" else [])
        names |= {f"{stack}.json", f"{stack}.state.json"}
        if args.compare_phase != "none":
            names.add(f"{stack}.{args.compare_phase}.json")
        for picture in pictures:
            names.add(f"{picture}.dot")
            if not args.no_images:
                names |= {f"{picture}.svg", f"{picture}.png"}
    if len(stacks) == 2 and not args.no_runbook:
        names.add("dr-runbook.md")
    return out, names


@pytest.mark.parametrize("command", RUN, ids=[c.text[:60] for c in RUN])
def test_documented_command_runs_in_a_fresh_clone(tmp_path: Path, command: Command) -> None:
    if sys.prefix == sys.base_prefix:
        pytest.skip("needs the project's virtualenv (make test runs in .venv)")
    root = fresh_copy(tmp_path / "clone")
    env = {**shell_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command.text],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    where = ", ".join(command.where)
    assert proc.returncode == 0, (
        f"{command.text!r} ({where}) exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    if "erdr.plan" in command.text or command.text == "make plan":
        out, names = expected_files(command.text, root)
        assert {p.name for p in out.iterdir()} == names, where
    if "erdr.bench" in command.text:
        assert "## 5. Plan speed" in (root / "build" / "bench" / "benchmarks.md").read_text()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    assert status.stdout == "", f"{command.text!r} ({where}) changed the tree:\n{status.stdout}"


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_docs_point_only_inside_the_repository_or_to_urls() -> None:
    """A reader of a clone has the repository and the web, nothing beside them (the README once
    pointed to ../shared/reference/)."""
    for doc in DOCS:
        text = doc.read_text()
        for target in LINK.findall(text):
            if re.match(r"[a-z]+://|mailto:", target):
                continue
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(PROJECT_DIR), f"{doc.name}: {target} leaves the repository"
            assert resolved.exists(), f"{doc.name}: {target} does not exist"
        outside = re.findall(r"`(\.\./[^`]*|/work/[^`]*)`", text)
        assert not outside, f"{doc.name} names paths outside the repository: {outside}"
