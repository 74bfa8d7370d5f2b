"""A wheel of every package the policy pack's venv pins, for tests that set the pack up in a
fresh clone or in a published copy.

``make setup`` in a fresh clone builds policies/venv from policies/requirements.txt, as a user's
clone would; downloading the pins there took most of a minute of every test run. The wheelhouse is
built once from the already-resolved pins (``pip wheel -r policies/requirements.txt -c
constraints.txt``: the pack's closure, a dozen wheels) into ``build/wheelhouse-<hash>/``, the hash
taken over the requirement and constraint files and the Python version, so a new pin gets a new
wheelhouse. The tests then install from it alone (:func:`offline_pip_env`): no index, so a pin
missing from it fails the install instead of being fetched, and no bytecode compiled at install
time (Python compiles what it imports).

Building it needs the index once; several pytest workers share one build through a lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD = PROJECT_DIR / "build"
PIN_FILES = (
    "requirements.txt",
    "requirements-dev.txt",
    "policies/requirements.txt",
    "policies/constraints.txt",
    "constraints.txt",
)
STAMP = ".built-stamp"
BUILD_TIMEOUT_S = 1800


class WheelhouseError(RuntimeError):
    """The wheelhouse could not be built: says which command failed and how."""


def wheelhouse_dir(root: Path = PROJECT_DIR) -> Path:
    """``build/wheelhouse-<hash>``: a changed requirement file or another Python gets a new one."""
    digest = hashlib.sha256()
    for name in PIN_FILES:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    digest.update(f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    digest.update(b"the pack's closure")  # what it holds: policies/requirements.txt's pins
    return BUILD / f"wheelhouse-{digest.hexdigest()[:12]}"


def ensure_wheelhouse(root: Path = PROJECT_DIR) -> Path:
    """The wheelhouse's directory, built first if it is not there (or was left half-built)."""
    house = wheelhouse_dir(root)
    if (house / STAMP).is_file():
        return house
    BUILD.mkdir(exist_ok=True)
    with (BUILD / f"{house.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait, then look again
        if (house / STAMP).is_file():
            return house
        shutil.rmtree(house, ignore_errors=True)
        # The index, not a find-links directory the environment may name, is where pins come from.
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT")
        }
        cmd = [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
            "-r", "policies/requirements.txt", "-c", "constraints.txt", "--wheel-dir", str(house),
        ]  # fmt: skip
        done = subprocess.run(
            cmd, cwd=root, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise WheelhouseError(f"building the wheelhouse failed (exit {done.returncode}): {' '.join(cmd)}\n{tail}")
        (house / STAMP).write_text("".join(f"{n}\n" for n in PIN_FILES))
    return house


def offline_pip_env(environ: Mapping[str, str], house: Path) -> dict[str, str]:
    """``environ`` with pip told to install from ``house`` only, without compiling bytecode.

    pip reads a ``--no-*`` switch's environment variable as the value of the option it negates
    (``PIP_NO_COMPILE=0`` is ``--no-compile``; pip's ``ConfigOptionParser._update_defaults``
    converts it with strtobool into the ``compile`` destination); the test of the fresh clone checks
    that nothing was compiled."""
    env = {k: v for k, v in environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    return {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(house), "PIP_NO_COMPILE": "0"}
