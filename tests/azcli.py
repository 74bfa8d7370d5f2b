"""The real Azure CLI, for tests: its own environment (cached), and `az` lines parsed by it.

The CLI (`azure-cli` from PyPI, pinned with every dependency in tests/azure-cli.txt) pulls in some
150 packages, many of them pinned differently from the program's, so it lives in an environment of
its own, never in .venv: ``build/azure-cli-<hash>/``, the hash taken over the pins and the Python
version. The first test that needs it creates it (or ``make azure-cli`` does, which ``make unit`` runs:
``python -m tests.azcli``); later runs find it ready. Several pytest workers share one creation
through a lock.

tests/azcli_driver.py runs in that environment and parses each line through ``AzCli.invoke`` up to
where the command's handler would run (nothing signs in, nothing reaches the network).

The runbook half: :func:`az_lines` takes every ``az`` command a generated runbook (Markdown) shows,
in a shell block or as inline code, joins ``\\`` continuations and fills shell variables and
``<placeholders>`` with realistic values, so the CLI parses what an operator would paste.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
PINS = PROJECT_DIR / "tests" / "azure-cli.txt"
DRIVER = PROJECT_DIR / "tests" / "azcli_driver.py"
BUILD = PROJECT_DIR / "build"
STAMP = ".installed-stamp"
INSTALL_TIMEOUT_S = 1800
PARSE_TIMEOUT_S = 600


class AzCliEnvError(RuntimeError):
    """The Azure CLI's environment could not be made: says which command failed and how."""


def env_dir(pins: Path = PINS) -> Path:
    """``build/azure-cli-<hash>``: a new pin or another Python gets a new environment."""
    digest = hashlib.sha256(pins.read_bytes() + f"{sys.version_info[0]}.{sys.version_info[1]}".encode()).hexdigest()
    return BUILD / f"azure-cli-{digest[:12]}"


def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def _run(cmd: Sequence[str], what: str) -> None:
    done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise AzCliEnvError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{tail}")


def _installer(env: Path, pins: Path) -> list[list[str]]:
    """uv (requirements-dev.txt puts it in .venv) installs the ~150 pins in seconds where pip takes
    minutes; pip is the fallback for a .venv made before uv was pinned."""
    python = str(env_python(env))
    uv = Path(sys.executable).parent / "uv"
    if uv.is_file():
        return [
            [str(uv), "pip", "install", "--python", python, "--no-deps", "--quiet", "-r", str(pins)],
            [str(uv), "pip", "check", "--python", python],
        ]
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    return [[*pip, "install", "--quiet", "--no-deps", "-r", str(pins)], [*pip, "check"]]


def ensure_env(pins: Path = PINS) -> Path:
    """The environment's directory, created first if it is not there (or was left half-made).

    ``--no-deps``: the pins are the whole closure (``uv pip compile --universal``), and the check
    after the install says if one is missing."""
    env = env_dir(pins)
    if (env / STAMP).is_file():
        return env
    BUILD.mkdir(exist_ok=True)
    with (BUILD / f"{env.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be creating it: wait, then look again
        if (env / STAMP).is_file():
            return env
        shutil.rmtree(env, ignore_errors=True)
        installer = _installer(env, pins)
        no_pip = ["--without-pip"] if installer[0][0].endswith("uv") else []
        _run([sys.executable, "-m", "venv", *no_pip, str(env)], "creating the Azure CLI's environment")
        what = f"installing the pinned Azure CLI ({pins.relative_to(PROJECT_DIR)})"
        for cmd in installer:
            _run(cmd, what)
            what = "checking the Azure CLI's dependencies"
        (env / STAMP).write_text(pins.read_text())
    return env


@dataclass(frozen=True)
class Parsed:
    """What the real CLI made of one line."""

    line: str
    ok: bool
    phase: str  # how far it got: shell, load, parse, validate, format, handler
    error: str
    error_class: str
    needs_azure: str  # a validator that would have read Azure: the parse itself passed
    output: str


@dataclass(frozen=True)
class ParseRun:
    version: str
    results: list[Parsed]


def parse(lines: Sequence[str], env: Path | None = None) -> ParseRun:
    """Every line through the real CLI's parser, in one process (loading the CLI costs seconds)."""
    env = env or ensure_env()
    done = subprocess.run(
        [str(env_python(env)), "-I", str(DRIVER)],
        input=json.dumps({"lines": list(lines)}),
        capture_output=True,
        text=True,
        timeout=PARSE_TIMEOUT_S,
        check=False,
        env={
            "AZURE_CONFIG_DIR": str(env / "azure-config"),
            "AZURE_CORE_COLLECT_TELEMETRY": "no",
            "PATH": "/usr/bin:/bin",
            "HOME": str(env),
        },
    )
    if done.returncode != 0:
        raise AzCliEnvError(f"the az parse driver failed (exit {done.returncode}): {done.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(done.stdout)
    results = [
        Parsed(
            line=line,
            ok=bool(r["ok"]),
            phase=str(r["phase"]),
            error=str(r.get("error", "")),
            error_class=str(r.get("error_class", "")),
            needs_azure=str(r.get("needs_azure", "")),
            output=str(r.get("output", "")),
        )
        for line, r in zip(lines, data["results"], strict=True)
    ]
    return ParseRun(version=str(data["version"]), results=results)


# --- az lines of a runbook ------------------------------------------------------------------------

FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
INLINE = re.compile(r"`(az [^`]+)`")
# A PowerShell statement that runs az: at the start of a line, after `;`, `{`, `|` or an assignment.
PS_AZ = re.compile(r"(?:^|[;{|]|=)\s*(az\s[^;|}]+)")
SHELL_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
PLACEHOLDER = re.compile(r"<(\w+)>")


class UnknownValueError(ValueError):
    """A variable or placeholder with no realistic value given: the test says which."""


@dataclass(frozen=True)
class AzLine:
    """One az command as the runbook shows it, and as an operator would run it."""

    shown: str  # the runbook's text (continuations joined)
    line: str  # variables and placeholders filled
    where: str  # "line N (sh block)" / "line N (inline)" / "line N (powershell block)"


def blocks(text: str) -> Iterable[tuple[int, str, list[str]]]:
    """(first line number, language, lines without the block's indent) of each fenced block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start, body = len(m[1]), m[2], i + 2, []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1  # the closing fence
        yield start, lang, body


def joined(body: list[str], first: int) -> Iterable[tuple[int, str]]:
    """Logical lines: a line ending with a backslash goes on with the next one."""
    acc, at = "", first
    for n, raw in enumerate(body, first):
        if not acc:
            at = n
        if raw.rstrip().endswith("\\"):
            acc += raw.rstrip()[:-1] + " "
            continue
        yield at, acc + raw
        acc = ""
    if acc:
        yield at, acc


def fill(shown: str, values: Mapping[str, str]) -> str:
    """Shell variables (``$X``, ``${X}``) and ``<placeholders>`` replaced by realistic values."""

    def value(name: str) -> str:
        if name not in values:
            raise UnknownValueError(f"no realistic value for {name!r} in: {shown}")
        return shlex.quote(values[name])

    line = SHELL_VAR.sub(lambda m: value(m[1] or m[2]), shown)
    return PLACEHOLDER.sub(lambda m: value(m[1]), line)


def az_lines(runbook: str, values: Mapping[str, str]) -> list[AzLine]:
    """Every az command the runbook shows: shell blocks, PowerShell blocks and inline code."""
    found: list[AzLine] = []
    for first, lang, body in blocks(runbook):
        for n, logical in joined(body, first):
            stripped = logical.strip()
            if lang in ("sh", "bash", "shell", "console", ""):
                if stripped.startswith("az "):
                    found.append(AzLine(stripped, fill(stripped, values), f"line {n} ({lang or 'plain'} block)"))
            elif lang in ("powershell", "pwsh", "ps1"):
                for m in PS_AZ.finditer(stripped):
                    cmd = m[1].strip()
                    found.append(AzLine(cmd, fill(cmd, values), f"line {n} (powershell block)"))
    in_block = False
    for n, raw in enumerate(runbook.splitlines(), 1):
        if FENCE.match(raw):
            in_block = not in_block
            continue
        if not in_block:
            found += [AzLine(m[1], fill(m[1], values), f"line {n} (inline)") for m in INLINE.finditer(raw)]
    return found


def main() -> int:
    """``python -m tests.azcli``: create the environment (``make azure-cli``) and say how long it took."""
    start = time.monotonic()
    env = ensure_env()
    print(f"{env.relative_to(PROJECT_DIR)}: ready in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
