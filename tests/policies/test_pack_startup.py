"""The pack starts the way the Pulumi CLI starts it, from the README's set-up alone.

Since Pulumi 3.221 ``pulumi preview --policy-pack policies`` hands the pack directory to the
Python language host, which runs ``<virtualenv>/bin/python -u -m pulumi.policy <engine>
<absolute pack dir>`` from the pack directory, ``virtualenv`` taken from PulumiPolicy.yaml
(pulumi/pulumi ``sdk/python/cmd/pulumi-language-python/main.go`` ``RunPlugin``,
``sdk/python/toolchain/pip.go``). Nothing installs a local pack's requirements, so that
interpreter must exist after the documented set-up, in CI as on a laptop.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from erdr.policy_client import (
    NO_ENGINE,
    POLICIES_DIR,
    PackNotInstalled,
    PolicyPackClient,
    activate_virtualenv,
    language_host_launch,
)
from erdr.stackfiles import PROJECT_DIR
from policies.pack import RULES

README = (PROJECT_DIR / "README.md").read_text()
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"


def readme_setup_command() -> str:
    """The one set-up command the README gives (its ``make setup`` line, comment stripped)."""
    found = re.findall(r"^(make setup)\b", README, flags=re.MULTILINE)
    assert found, "README.md must give the set-up command on a line of its own"
    return found[0]


def fresh_clone(dest: Path) -> Path:
    """What `git clone` of this working tree would hold: tracked and new, unignored files only."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = PROJECT_DIR / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def test_launch_is_the_language_hosts_command_line() -> None:
    launch = language_host_launch(POLICIES_DIR, engine="127.0.0.1:12345", environ={"PATH": "/usr/bin"})
    venv = (PROJECT_DIR / ".venv").resolve()
    assert launch.argv == [
        str(venv / "bin" / "python"),
        "-u",
        "-m",
        "pulumi.policy",
        "127.0.0.1:12345",
        str(POLICIES_DIR),
    ]
    assert launch.cwd == POLICIES_DIR and launch.cwd.is_absolute()
    assert launch.env["PATH"] == f"{venv / 'bin'}{os.pathsep}/usr/bin"
    assert launch.env["VIRTUAL_ENV"] == str(venv)


def test_activation_drops_pythonhome_and_prepends_the_virtualenv() -> None:
    env = activate_virtualenv({"Path": "/a", "PYTHONHOME": "/x", "VIRTUAL_ENV": "/old", "K": "v"}, Path("/v"))
    assert env == {"K": "v", "PATH": f"/v/bin{os.pathsep}/a", "VIRTUAL_ENV": "/v"}


def test_every_set_up_path_creates_the_virtualenv_the_pack_names() -> None:
    """PulumiPolicy.yaml, the Makefile, requirements.txt (what the CLI installs on its own) and
    both workflows agree on one environment holding the pack's requirements."""
    runtime = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())["runtime"]
    assert runtime["name"] == "python" and runtime["options"]["toolchain"] == "pip"
    venv = (POLICIES_DIR / runtime["options"]["virtualenv"]).resolve()
    makefile = (PROJECT_DIR / "Makefile").read_text()
    made = re.search(r"^VENV := (\S+)$", makefile, flags=re.MULTILINE)
    assert made is not None and (PROJECT_DIR / made.group(1)).resolve() == venv
    assert re.search(r"^setup: \$\(STAMP\)$", makefile, flags=re.MULTILINE)
    program = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert (PROJECT_DIR / program["virtualenv"]).resolve() == venv
    assert "-r policies/requirements.txt" in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
    for wf in ("pull-request.yml", "deploy.yml"):
        doc = yaml.safe_load((WORKFLOWS / wf).read_text())
        for name, job in doc["jobs"].items():
            steps = job["steps"]
            packs = [i for i, s in enumerate(steps) if "policyPacks" in (s.get("with") or {})]
            if not packs:
                continue
            setup = [i for i, s in enumerate(steps) if s.get("run") == "make setup"]
            assert setup and setup[0] < packs[0], f"{wf} {name}: `make setup` before the policy pack runs"


def test_a_missing_interpreter_is_named_with_the_fix(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(POLICIES_DIR, pack, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.raises(PackNotInstalled, match=r"make setup"):
        PolicyPackClient(pack).start()


def test_fresh_clone_after_the_readme_setup_starts_the_pack_as_the_cli_does(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path.resolve() / "clone")
    assert not (clone / ".venv").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run(
        readme_setup_command(), shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    pack = clone / "policies"
    with PolicyPackClient(pack) as client:
        assert client.process is not None
        pid = client.process.pid
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        assert argv == [str(clone / ".venv" / "bin" / "python"), "-u", "-m", "pulumi.policy", NO_ENGINE, str(pack)]
        assert Path(os.readlink(f"/proc/{pid}/cwd")) == pack
        info = client.info()
    assert info.name == "expressroute-dr"
    assert {p.name for p in info.policies} == {r.name for r in RULES}
