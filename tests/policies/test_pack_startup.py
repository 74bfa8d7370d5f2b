"""The pack starts the way the Pulumi CLI starts it, from its own venv, wherever it is installed.

Since Pulumi 3.221 ``pulumi preview --policy-pack policies`` hands the pack directory to the
Python language host, which runs ``<virtualenv>/bin/python -u -m pulumi.policy <engine>
<absolute pack dir>`` from the pack directory, ``virtualenv`` taken from PulumiPolicy.yaml
(pulumi/pulumi ``sdk/python/cmd/pulumi-language-python/main.go`` ``RunPlugin``,
``sdk/python/toolchain/pip.go``). Nothing installs a local pack's requirements, so that
interpreter must exist after the documented set-up, in CI as on a laptop.

A pack published with ``pulumi policy publish`` is archived without what its .gitignore files
ignore (``archive.TGZ`` with default excludes) and, when Pulumi Cloud enforces it, unpacked into
``~/.pulumi/policies/<org>/pulumi-analyzer-<name>-v<version>/`` where the language host creates
``<virtualenv>`` and runs ``pip install -r requirements.txt`` in it
(``pkg/backend/httpstate/policypack.go`` ``installRequiredPolicy``, ``workspace.GetPolicyPath``,
``sdk/python/toolchain/pip.go`` ``InstallDependencies``). A pack-local ``venv`` gives every
version its own environment; ``../.venv`` made them all share one (the control below).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
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
from tests.helpers import clone_files
from tests.wheelhouse import ensure_wheelhouse, offline_pip_env

README = (PROJECT_DIR / "README.md").read_text()
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"


def readme_setup_command() -> str:
    """The one set-up command the README gives (its ``make setup`` line, comment stripped)."""
    found = re.findall(r"^(make setup)\b", README, flags=re.MULTILINE)
    assert found, "README.md must give the set-up command on a line of its own"
    return found[0]


def fresh_clone(dest: Path) -> Path:
    """What `git clone` of this working tree would hold: tracked and new, unignored files only."""
    for rel in clone_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_DIR / rel, dest / rel)
    return dest


def test_launch_is_the_language_hosts_command_line() -> None:
    launch = language_host_launch(POLICIES_DIR, engine="127.0.0.1:12345", environ={"PATH": "/usr/bin"})
    venv = POLICIES_DIR / "venv"
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
    """PulumiPolicy.yaml names a pack-local `venv`, as Pulumi's own templates get; the Makefile's
    set-up builds it from the pack's requirements, git (and so `pulumi policy publish`) ignores
    it, and both workflows run `make setup` before any step that loads the pack."""
    runtime = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())["runtime"]
    assert runtime["name"] == "python" and runtime["options"]["toolchain"] == "pip"
    assert runtime["options"]["virtualenv"] == "venv"
    venv = (POLICIES_DIR / runtime["options"]["virtualenv"]).resolve()
    makefile = (PROJECT_DIR / "Makefile").read_text()
    made = re.search(r"^PACK_VENV := (\S+)$", makefile, flags=re.MULTILINE)
    assert made is not None and (PROJECT_DIR / made.group(1)).resolve() == venv
    assert re.search(r"^SETUP := \$\(STAMP\) \$\(PACK_STAMP\)$", makefile, flags=re.MULTILINE)
    assert re.search(r"^setup: \$\(SETUP\)$", makefile, flags=re.MULTILINE)
    assert "$(PACK_PY) -m pip install --quiet --disable-pip-version-check -r policies/requirements.txt" in makefile
    ignored = subprocess.run(["git", "check-ignore", "-q", "policies/venv/bin/python"], cwd=PROJECT_DIR, check=False)
    assert ignored.returncode == 0, "policies/venv must be ignored, or `pulumi policy publish` would archive it"
    program = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert (PROJECT_DIR / program["virtualenv"]).resolve() != venv
    for wf in ("pull-request.yml", "deploy.yml"):
        doc = yaml.safe_load((WORKFLOWS / wf).read_text())
        for name, job in doc["jobs"].items():
            steps = job["steps"]
            packs = [
                i
                for i, s in enumerate(steps)
                if "policyPacks" in (s.get("with") or {}) or "--policy-pack" in str(s.get("run", ""))
            ]
            if not packs:
                continue
            setup = [i for i, s in enumerate(steps) if s.get("run") == "make setup"]
            assert setup and setup[0] < packs[0], f"{wf} {name}: `make setup` before the policy pack runs"


def test_the_packs_pins_are_the_projects() -> None:
    """policies/constraints.txt pins the whole pack environment for installs outside make (Pulumi's
    install of the published pack); its versions are the project's."""

    def pins(path: Path) -> dict[str, str]:
        lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        return {canon(n): v for n, _, v in (ln.partition("==") for ln in lines if "==" in ln)}

    project = pins(PROJECT_DIR / "constraints.txt")
    pack = pins(POLICIES_DIR / "constraints.txt")
    assert {"pulumi", "pulumi-policy", "grpcio", "protobuf"} <= set(pack)
    assert {n: project.get(n) for n in pack} == pack
    assert "-c constraints.txt" in (POLICIES_DIR / "requirements.txt").read_text().splitlines()


def test_a_missing_interpreter_is_named_with_the_fix(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(POLICIES_DIR, pack, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    with pytest.raises(PackNotInstalled, match=r"make setup"):
        PolicyPackClient(pack).start()


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pack_argv_and_info(pack: Path) -> tuple[list[str], Path, set[str], str]:
    """Start the pack as the language host does; its command line, directory, policies, name."""
    with PolicyPackClient(pack) as client:
        assert client.process is not None
        pid = client.process.pid
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        info = client.info()
    return argv, cwd, {p.name for p in info.policies}, info.name


def published_copy(pack: Path, dest: Path) -> Path:
    """What `pulumi policy publish` archives of ``pack``: the files the .gitignore files of the pack
    and above keep (this repository's git answers for the clone, which holds the same files)."""
    for rel in clone_files("policies"):
        inside = Path(rel).relative_to("policies")
        if (pack / inside).is_file():
            (dest / inside).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(pack / inside, dest / inside)
    return dest


def installed_dir(root: Path, version: str) -> Path:
    """Where enforcement installs a published pack (workspace.GetPolicyPath)."""
    return root / "policies" / "acme" / f"pulumi-analyzer-expressroute-dr-v{version}"


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The pack's pinned packages as wheels (tests/wheelhouse.py), built once, so the set-ups below
    install offline from the same requirement files a user's clone installs from."""
    return ensure_wheelhouse()


def up_to_date_project_venv() -> Path:
    """The project's .venv, once make agrees it is current for the requirement files; else the
    clone's `make setup` would reinstall through the link below."""
    question = subprocess.run(
        ["make", "-q", ".venv/.installed-stamp"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    if question.returncode != 0:
        pytest.fail("the project's .venv is older than its requirement files: run `make setup` first")
    return Path(sys.prefix)


@pytest.fixture(scope="session")
def clone(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A fresh clone after the README's set-up command, as CI and a new user get it.

    The clone's .venv is the project's own, linked in (make sees it current and leaves it): the
    program's environment is what this test suite already runs in, and CI's fresh clone builds it
    with this same `make setup` before any test starts. The pack's policies/venv, which nothing else
    here builds from scratch, is made by the set-up command from the pinned wheels.

    Made once per test session: xdist workers share it through a lock in their common temporary
    directory (the tests only read it)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    clone, record = root / "fresh-clone", root / "fresh-clone.done"
    with (root / "fresh-clone.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            shutil.rmtree(clone, ignore_errors=True)
            fresh_clone(clone.resolve())
            assert not (clone / ".venv").exists() and not (clone / "policies" / "venv").exists()
            (clone / ".venv").symlink_to(up_to_date_project_venv())
            env = offline_pip_env(
                {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}, wheelhouse
            )
            done = subprocess.run(
                readme_setup_command(), shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=900,
                check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
            assert "requirements-dev.txt" not in done.stdout, "make reinstalled the linked .venv"
            compiled = list((clone / "policies" / "venv").glob("lib/python*/site-packages/pulumi/**/__pycache__"))
            assert not compiled, f"the offline install compiled bytecode (PIP_NO_COMPILE): {compiled[:3]}"
            record.write_text("")
    return clone.resolve()


def test_fresh_clone_after_the_readme_setup_starts_the_pack_as_the_cli_does(clone: Path) -> None:
    pack = clone / "policies"
    argv, cwd, policies, name = pack_argv_and_info(pack)
    assert argv == [str(pack / "venv" / "bin" / "python"), "-u", "-m", "pulumi.policy", NO_ENGINE, str(pack)]
    assert cwd == pack
    assert name == "expressroute-dr"
    assert policies == {r.name for r in RULES}
    # The pack's venv holds exactly its pinned environment, nothing of the program's.
    frozen = subprocess.run(
        [str(pack / "venv" / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {canon(line.partition("==")[0]) for line in frozen.splitlines() if "==" in line}
    pinned = {canon(ln.partition("==")[0]) for ln in (pack / "constraints.txt").read_text().splitlines() if "==" in ln}
    assert installed == pinned
    assert "pulumi-azure-native" not in installed


def test_a_published_copy_in_a_versioned_directory_starts_from_its_own_venv(
    clone: Path, tmp_path: Path, wheelhouse: Path
) -> None:
    pulumi_home = tmp_path.resolve() / ".pulumi"
    final = published_copy(clone / "policies", installed_dir(pulumi_home, "0.1.0"))
    assert not (final / "venv").exists(), "the archive leaves the venv out"
    assert (final / "PulumiPolicy.yaml").read_text() == (clone / "policies" / "PulumiPolicy.yaml").read_text()
    # installRequiredPolicy: `python -m venv <abs venv>`, then `pip install -r requirements.txt` from
    # the pack directory, inside that venv (the pip/setuptools/wheel upgrade before it is skipped here).
    venv = language_host_launch(final).virtualenv
    assert venv is not None and venv == final / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = offline_pip_env({k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}, wheelhouse)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", "requirements.txt"],
        cwd=final, env={**env, "VIRTUAL_ENV": str(venv)}, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    argv, cwd, policies, name = pack_argv_and_info(final)
    assert argv == [str(final / "venv" / "bin" / "python"), "-u", "-m", "pulumi.policy", NO_ENGINE, str(final)]
    assert cwd == final and name == "expressroute-dr"
    assert policies == {r.name for r in RULES}
    # A second version installed beside it gets another environment.
    other = published_copy(clone / "policies", installed_dir(pulumi_home, "0.2.0"))
    assert language_host_launch(other).virtualenv == other / "venv" != venv


def test_control_a_shared_virtualenv_serves_every_version_from_one_environment(tmp_path: Path) -> None:
    """What the pack-local venv fixes: with `virtualenv: ../.venv` every installed version (and any
    other pack that says the same) resolves to the one ~/.pulumi/policies/<org>/.venv."""
    versions = []
    for version in ("0.1.0", "0.2.0"):
        final = installed_dir(tmp_path, version)
        final.mkdir(parents=True)
        project = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())
        project["runtime"]["options"]["virtualenv"] = "../.venv"
        (final / "PulumiPolicy.yaml").write_text(yaml.safe_dump(project))
        versions.append(language_host_launch(final).virtualenv)
    assert versions[0] == versions[1] == tmp_path / "policies" / "acme" / ".venv"
