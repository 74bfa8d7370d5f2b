"""One lock per stack pair, shared by CI's deploy and the failover command, so neither runs while
the other does.

    python -m erdr.lock acquire|release|status --stacks prod=NAME,dr=NAME [--holder TEXT]
        [--purpose TEXT] [--backend URL] [--lock-url URL] [--token-file FILE] [--force]

Library (the whole API)::

    from erdr.lock import LockError, LockHeld, stack_pair_lock

    with stack_pair_lock("acme/prod", "acme/dr", purpose="failover") as held:
        ...                          # held.info: holder, purpose, since; held.where: the lock's URL
    # released on exit, also on an exception. LockHeld: someone else holds it (.info says who,
    # since when, for what); LockError: it could not be taken or read, so fail closed.

``token_file`` (library and CLI): the token of the acquisition is written there; an acquire with
the same token takes the lock back (an interrupted run resuming, a retried CI step), and release
needs it. ``lock_for(prod, dr)`` returns the lock itself (``status()``, ``acquire()``,
``release()``) for the CLI and tests.

The lock lives beside the state, so everyone who can deploy the stacks sees it. Per backend
(chosen as the CLI does: ``PULUMI_BACKEND_URL``, then ``backend.url`` in Pulumi.yaml, then the
``current`` of ``~/.pulumi/credentials.json``, pulumi/pulumi ``pkg/workspace/creds.go``):

- ``file://`` (``pulumi login --local``): a file created with ``O_CREAT|O_EXCL`` (atomic on a local
  file system) in ``<root>/.pulumi/erdr-locks/``, holding the holder and the token as JSON. It
  outlives the process that took it, so CI steps and ``--resume`` can share it.
- ``azblob://<container>``: an infinite lease on the blob ``.pulumi/erdr-locks/<key>.lock`` of the
  state container (Lease Blob: acquire answers 201 to one caller and 409 to every other;
  https://learn.microsoft.com/rest/api/storageservices/lease-blob). The holder is in the blob's
  metadata. The account and endpoint come from the same settings as Pulumi's backend (gocloud's
  ``azureblob``: ``AZURE_STORAGE_ACCOUNT``, ``AZURE_STORAGE_DOMAIN``, ``AZURE_STORAGE_PROTOCOL``,
  ``AZURE_STORAGE_IS_LOCAL_EMULATOR``, or the URL's ``storage_account``/``domain``/``protocol``/
  ``localemu``); credentials: ``AZURE_STORAGE_SAS_TOKEN``, else Entra ID through
  ``DefaultAzureCredential`` (the Azure CLI's login, OIDC in CI). The identity needs Storage Blob
  Data Contributor on the container; an account key alone is not used.
- Pulumi Cloud (``https://...``): the CLI can reach no compare-and-set primitive there (stack tags
  are last-writer-wins), so the lock is an Azure blob lease as above at ``ERDR_LOCK_URL``
  (``azblob://<container>?storage_account=<account>``); without it every command stops.
- Any other backend: set ``ERDR_LOCK_URL`` (``azblob://...`` or ``file://...``), or it stops.

``ERDR_LOCK_URL`` (or ``--lock-url``) overrides the lock's place for every backend. The key is the
two stacks' short names (``prod+dr`` for ``acme/prod`` and ``organization/expressroute-dr/dr``
alike): names that differ only by org share one lock, which errs on the side of waiting.

A lock outlives a process that dies holding it (by design: a failover interrupted half-way must
not let a deploy in). ``release --force`` clears it after you have checked that its holder (which
``status`` names) is gone.

Exit codes: 0 done (status: free); 1 held by someone else (status: held), or release refused;
2 could not tell (bad arguments, backend unreachable or refusing): nothing was changed.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import hashlib
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import yaml

from erdr import safe_yaml
from erdr.stackfiles import PROJECT_DIR

LOCK_DIR = ".pulumi/erdr-locks"
DEFAULT_TOKEN_DIR = PROJECT_DIR / "build" / "locks"
PULUMI_CLOUD = "https://api.pulumi.com"
STORAGE_SCOPE = "https://storage.azure.com/.default"
STORAGE_API_VERSION = "2021-12-02"
HTTP_TIMEOUT = 20.0  # seconds per request
HTTP_ATTEMPTS = 3  # 429 and 5xx are retried; a lease acquire is idempotent with the same proposed ID
MAX_RETRY_AFTER = 10.0
MAX_TEXT = 200
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LockError(Exception):
    """The lock could not be taken, released or read: whoever asked must not go on."""


class LockHeld(LockError):
    """Someone else holds the lock."""

    def __init__(self, message: str, info: LockInfo | None) -> None:
        super().__init__(message)
        self.info = info


class LockRefused(LockError):
    """A release without the holder's token (or of a lock nobody holds): nothing was released."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock: shown to whoever is refused."""

    holder: str
    purpose: str
    since: str  # ISO 8601, UTC
    stacks: str

    def describe(self) -> str:
        what = f" for {self.purpose}" if self.purpose else ""
        return f"{self.holder}{what}, since {self.since}"


class Lock(Protocol):
    where: str

    def status(self) -> LockInfo | None: ...

    def acquire(self, info: LockInfo, token: str) -> None: ...

    def release(self, token: str | None, *, force: bool = False) -> LockInfo | None: ...


@dataclass(frozen=True)
class Held:
    """A lock this process holds (what :func:`stack_pair_lock` yields)."""

    info: LockInfo
    token: str
    where: str


def clean_text(text: str) -> str:
    """Holder and purpose as one printable line of bounded length (they end up in headers)."""
    line = "".join(c if c.isprintable() else " " for c in text).strip()
    return line[:MAX_TEXT]


def short_name(stack: str) -> str:
    return stack.strip().rstrip("/").rsplit("/", 1)[-1]


def lock_key(prod: str, dr: str) -> str:
    """The lock's name for a stack pair: both short names, readable and safe as a file or blob name."""
    a, b = short_name(prod), short_name(dr)
    if not a or not b or a == b:
        raise LockError(f"--stacks: prod and dr must be two different stacks (got {prod!r} and {dr!r})")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", a) + "+" + re.sub(r"[^A-Za-z0-9._-]", "_", b)
    digest = hashlib.sha256(f"{a}\0{b}".encode()).hexdigest()[:10]
    return f"{safe}-{digest}"


def parse_stacks(text: str) -> tuple[str, str]:
    """``prod=acme/prod,dr=acme/dr`` -> ('acme/prod', 'acme/dr')."""
    names: dict[str, str] = {}
    roles = {"prod": "prod", "source": "prod", "dr": "dr", "target": "dr"}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in roles or not value.strip():
            raise LockError(f"--stacks: expected prod=NAME,dr=NAME, got {part!r}")
        names[roles[key.strip()]] = value.strip()
    if set(names) != {"prod", "dr"}:
        raise LockError(f"--stacks: name both stacks, prod=NAME,dr=NAME (got {text!r})")
    return names["prod"], names["dr"]


# --- where the lock lives -------------------------------------------------------------------------


def current_backend(environ: Mapping[str, str] | None = None, project_dir: Path = PROJECT_DIR) -> str:
    """The backend URL the CLI would use (pulumi/pulumi pkg/workspace/creds.go GetCurrentCloudURL)."""
    env = os.environ if environ is None else environ
    if env.get("PULUMI_BACKEND_URL"):
        return env["PULUMI_BACKEND_URL"]
    project = project_dir / "Pulumi.yaml"
    if project.is_file():
        try:
            doc = safe_yaml.load_file(project)  # bounded, duplicate keys refused (erdr/safe_yaml.py)
        except yaml.YAMLError as exc:
            raise LockError(f"{project}: not valid YAML ({exc}); cannot tell which backend to lock") from None
        backend = (doc.get("backend") if isinstance(doc, dict) else None) or {}
        if isinstance(backend, dict) and backend.get("url"):
            return str(backend["url"])
    home = Path(env.get("PULUMI_HOME") or Path(env.get("HOME", str(Path.home()))) / ".pulumi")
    creds = home / "credentials.json"
    try:
        current = json.loads(creds.read_text()).get("current") if creds.is_file() else None
    except (OSError, ValueError, AttributeError) as exc:
        raise LockError(f"cannot read {creds} to find the current backend: {exc}") from None
    if not current:
        raise LockError("no backend: run `pulumi login` (or set PULUMI_BACKEND_URL) first")
    return str(current)


def lock_url_for(backend: str, environ: Mapping[str, str] | None = None) -> str:
    """Where the lock of stacks on ``backend`` lives: ``ERDR_LOCK_URL``, else beside the state."""
    env = os.environ if environ is None else environ
    if env.get("ERDR_LOCK_URL"):
        return env["ERDR_LOCK_URL"]
    scheme = urlsplit(backend).scheme.lower()
    if scheme in ("file", "azblob"):
        return backend
    if scheme in ("https", "http"):
        raise LockError(
            f"backend {backend} (Pulumi Cloud) has no lock the CLI can take atomically: set ERDR_LOCK_URL "
            "to an Azure Blob container, e.g. azblob://<container>?storage_account=<account> (docs/operations.md)"
        )
    raise LockError(f"backend {backend}: no lock for this kind of backend; set ERDR_LOCK_URL (azblob:// or file://)")


def lock_for(
    prod: str,
    dr: str,
    *,
    backend: str | None = None,
    lock_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    credential: Any = None,
) -> Lock:
    """The lock of this stack pair, on the backend the CLI uses unless told otherwise."""
    env = os.environ if environ is None else environ
    key = lock_key(prod, dr)
    url = lock_url or lock_url_for(backend or current_backend(env), env)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FileLock(_file_root(url) / LOCK_DIR / f"{key}.lock")
    if parts.scheme == "azblob":
        return BlobLock.from_url(url, key, env, credential)
    raise LockError(f"lock URL {url}: expected file://<dir> or azblob://<container>")


def _file_root(url: str) -> Path:
    """The directory of a ``file://`` backend: ``file:///abs``, ``file://./rel`` (from the current
    directory), ``file://~`` and ``file://~/x`` (the user's home), as ``pulumi login`` takes them."""
    rest = unquote(url[len("file://") :].split("?", 1)[0])
    if rest == "~" or rest.startswith("~/"):
        return Path.home() / rest[2:]
    return Path(rest or "/")


# --- the local file backend -----------------------------------------------------------------------


class FileLock:
    """A file created atomically (``O_CREAT|O_EXCL``) beside the local backend's state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = path.as_uri()

    def _read(self) -> tuple[LockInfo | None, str | None]:
        try:
            data = json.loads(self.path.read_text())
            info = LockInfo(**{k: str(data[k]) for k in ("holder", "purpose", "since", "stacks")})
            return info, str(data["token"])
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError):
            # Being written by its creator this very moment, or left half-written by a crash.
            return None, None

    def status(self) -> LockInfo | None:
        try:
            info, _ = self._read()
        except FileNotFoundError:
            return None
        return info or LockInfo("unknown (unreadable lock file)", "", "unknown", self.path.name)

    def _create(self, body: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)

    def acquire(self, info: LockInfo, token: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(f"cannot create {self.path.parent}: {exc}") from None
        body = json.dumps({**asdict(info), "token": token}).encode()
        try:
            self._create(body)
            return
        except FileExistsError:
            pass
        except OSError as exc:
            raise LockError(f"cannot create {self.path}: {exc}") from None
        try:
            held, held_token = self._read()
        except FileNotFoundError:
            raise LockHeld(f"the lock {self.where} changed hands while it was read; try again", None) from None
        if held_token is not None and held_token == token:
            return  # ours already: the same token takes it back
        raise LockHeld(_held_message(self.where, held), held)

    def release(self, token: str | None, *, force: bool = False) -> LockInfo | None:
        try:
            held, held_token = self._read()
        except FileNotFoundError:
            if force:
                return None
            raise LockRefused(f"the lock {self.where} is not held; nothing was released") from None
        if not force and (token is None or held_token != token):
            raise LockRefused(_not_yours(self.where, held))
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LockError(f"cannot remove {self.path}: {exc}") from None
        return held


# --- the Azure Blob backend -----------------------------------------------------------------------


class BlobLock:
    """An infinite lease on a blob beside the state (Lease Blob, Set Blob Metadata, Get Blob
    Properties; x-ms-version 2021-12-02)."""

    def __init__(
        self,
        blob_url: str,
        *,
        sas: str = "",
        credential: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(blob_url)
        if parts.scheme not in ("https", "http"):
            raise LockError(f"lock blob {blob_url}: expected an https:// endpoint")
        if parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK:
            raise LockError(f"lock blob {blob_url}: plain http is accepted for loopback addresses only")
        self.blob_url = blob_url
        self.where = blob_url
        self.sas = sas.lstrip("?")
        self.credential = credential
        self.sleep = sleep

    @classmethod
    def from_url(cls, url: str, key: str, environ: Mapping[str, str], credential: Any = None) -> BlobLock:
        """``azblob://<container>[/<prefix>][?storage_account=..&domain=..&protocol=..&localemu=..]``,
        the rest from the environment as gocloud's ``azureblob`` reads it (``NewServiceURL``)."""
        parts = urlsplit(url)
        container = parts.netloc
        if not container:
            raise LockError(f"lock URL {url}: no container (azblob://<container>)")
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"storage_account", "domain", "protocol", "localemu"}
        if unknown:
            raise LockError(f"lock URL {url}: unknown parameter(s) {', '.join(sorted(unknown))}")
        account = query.get("storage_account") or environ.get("AZURE_STORAGE_ACCOUNT", "")
        if not account:
            raise LockError(f"lock URL {url}: no storage account (set AZURE_STORAGE_ACCOUNT or ?storage_account=)")
        domain = query.get("domain") or environ.get("AZURE_STORAGE_DOMAIN") or "blob.core.windows.net"
        protocol = query.get("protocol") or environ.get("AZURE_STORAGE_PROTOCOL") or "https"
        if protocol not in ("http", "https"):
            raise LockError(f"lock URL {url}: protocol must be http or https, got {protocol!r}")
        local = (query.get("localemu") or environ.get("AZURE_STORAGE_IS_LOCAL_EMULATOR", "")).lower() in ("1", "true")
        if local or domain.startswith(("127.0.0.1", "localhost")):
            service = f"{protocol}://{domain}/{account}"
        else:
            service = f"{protocol}://{account}.{domain}"
        prefix = parts.path.strip("/")
        name = "/".join(p for p in (prefix, LOCK_DIR, f"{key}.lock") if p)
        blob = f"{service}/{quote(container)}/{quote(name, safe='/+')}"
        sas = environ.get("AZURE_STORAGE_SAS_TOKEN", "")
        if not sas and credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return cls(blob, sas=sas, credential=credential)

    # -- HTTP ---------------------------------------------------------------------------------------

    def _request(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str]]:
        params = dict(query)
        url = self.blob_url + ("?" + urlencode(params) if params else "")
        if self.sas:
            url += ("&" if params else "?") + self.sas
        base = {"x-ms-version": STORAGE_API_VERSION, "x-ms-date": formatdate(usegmt=True)}
        if not self.sas:
            try:
                token = self.credential.get_token(STORAGE_SCOPE).token
            except Exception as exc:  # noqa: BLE001 - any credential failure means: cannot tell
                raise LockError(f"no Entra ID token for Azure Storage ({type(exc).__name__}: {exc})") from None
            base["Authorization"] = f"Bearer {token}"
        for attempt in range(1, HTTP_ATTEMPTS + 1):
            req = urllib.request.Request(url, data=body if method == "PUT" else None, method=method)
            for k, v in {**base, **headers}.items():
                req.add_header(k, v)
            try:
                with _OPENER.open(req, timeout=HTTP_TIMEOUT) as resp:
                    return resp.status, {k.lower(): v for k, v in resp.headers.items()}
            except urllib.error.HTTPError as err:
                status, got = err.code, {k.lower(): v for k, v in err.headers.items()}
                err.close()
                if (status == 429 or status >= 500) and attempt < HTTP_ATTEMPTS:
                    self.sleep(_retry_after(got.get("retry-after"), attempt))
                    continue
                return status, got
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                if attempt < HTTP_ATTEMPTS:
                    self.sleep(float(attempt))
                    continue
                reason = getattr(exc, "reason", exc)
                raise LockError(f"lock blob {self._public_url()}: unreachable ({reason})") from None
        raise AssertionError("unreachable")

    def _public_url(self) -> str:
        return self.blob_url  # never the SAS

    def _fail(self, what: str, status: int, headers: Mapping[str, str]) -> LockError:
        code = headers.get("x-ms-error-code", "")
        hint = ""
        if status == 403:
            hint = " (the identity needs Storage Blob Data Contributor on the state container)"
        elif status == 404 and code == "ContainerNotFound":
            hint = " (the container does not exist)"
        return LockError(f"{what} {self._public_url()}: HTTP {status} {code}{hint}".rstrip())

    # -- operations ---------------------------------------------------------------------------------

    def _properties(self) -> tuple[str, dict[str, str]] | None:
        status, headers = self._request("HEAD", {}, {})
        if status == 404:
            return None
        if status != 200:
            raise self._fail("cannot read the lock", status, headers)
        return headers.get("x-ms-lease-state", ""), headers

    def _info(self, headers: Mapping[str, str]) -> LockInfo:
        def meta(name: str) -> str:
            return unquote(headers.get(f"x-ms-meta-{name}", ""))

        return LockInfo(meta("holder") or "unknown", meta("purpose"), meta("since") or "unknown", meta("stacks"))

    def status(self) -> LockInfo | None:
        props = self._properties()
        if props is None:
            return None
        state, headers = props
        # available / expired / broken: free; leased / breaking: held (Get Blob Properties).
        return self._info(headers) if state in ("leased", "breaking") else None

    def acquire(self, info: LockInfo, token: str) -> None:
        status, headers = self._request(
            "PUT",
            {},
            {"x-ms-blob-type": "BlockBlob", "If-None-Match": "*", "Content-Type": "text/plain"},
            b"erdr stack-pair lock: the holder is in this blob's lease and metadata (python -m erdr.lock status)\n",
        )
        # 201 created; 409 or 412: it exists (from an earlier lock), which is fine.
        if status not in (201, 409, 412):
            raise self._fail("cannot create the lock blob", status, headers)
        status, headers = self._request(
            "PUT",
            {"comp": "lease"},
            {"x-ms-lease-action": "acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": token},
        )
        if status == 409:
            held = self.status()
            raise LockHeld(_held_message(self.where, held), held)
        if status != 201:
            raise self._fail("cannot take the lease on", status, headers)
        meta = {f"x-ms-meta-{k}": quote(v, safe=" /:@+,=") for k, v in asdict(info).items()}
        status, headers = self._request("PUT", {"comp": "metadata"}, {"x-ms-lease-id": token, **meta})
        if status != 200:
            error = self._fail("cannot record the holder on", status, headers)
            with contextlib.suppress(LockError):
                self.release(token)
            raise error

    def release(self, token: str | None, *, force: bool = False) -> LockInfo | None:
        held = self.status()
        if force:
            if held is None:
                return None
            status, headers = self._request(
                "PUT", {"comp": "lease"}, {"x-ms-lease-action": "break", "x-ms-lease-break-period": "0"}
            )
            if status != 202:
                raise self._fail("cannot break the lease on", status, headers)
            return held
        if token is None:
            raise LockRefused(_not_yours(self.where, held))
        status, headers = self._request(
            "PUT", {"comp": "lease"}, {"x-ms-lease-action": "release", "x-ms-lease-id": token}
        )
        if status == 409:
            raise LockRefused(_not_yours(self.where, held))
        if status != 200:
            raise self._fail("cannot release the lease on", status, headers)
        return held


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Azure Storage never redirects; following one would send the bearer token elsewhere."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _retry_after(value: str | None, attempt: int) -> float:
    try:
        return min(max(float(value or ""), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return float(attempt)


def _held_message(where: str, held: LockInfo | None) -> str:
    who = held.describe() if held else "someone (the holder could not be read)"
    return (
        f"the stack pair is locked by {who} ({where}). Wait until it finishes; if you are sure it is gone, "
        "clear it with `python -m erdr.lock release --force --stacks ...`"
    )


def _not_yours(where: str, held: LockInfo | None) -> str:
    who = held.describe() if held else "nobody"
    return f"the lock {where} is not held with this token (held by {who}); nothing was released"


# --- the library API ------------------------------------------------------------------------------


def default_holder(environ: Mapping[str, str] | None = None) -> str:
    """``GitHub Actions <run URL>`` in a workflow, ``user@host`` elsewhere."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"GitHub Actions {server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def new_info(
    prod: str, dr: str, holder: str | None, purpose: str, environ: Mapping[str, str] | None = None
) -> LockInfo:
    since = datetime.now(UTC).replace(microsecond=0).isoformat()
    return LockInfo(
        clean_text(holder or default_holder(environ)),
        clean_text(purpose),
        since,
        f"{short_name(prod)}+{short_name(dr)}",
    )


def read_token(path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LockError(f"cannot read the lock token {path}: {exc}") from None
    return token or None


def write_token(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)


@contextlib.contextmanager
def stack_pair_lock(
    prod: str,
    dr: str,
    *,
    holder: str | None = None,
    purpose: str = "",
    backend: str | None = None,
    lock_url: str | None = None,
    token_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Held]:
    """Hold the stack pair's lock for the ``with`` block; raises LockHeld or LockError instead of
    entering it. With ``token_file``, a token left there by an interrupted holder takes it back."""
    lock = lock_for(prod, dr, backend=backend, lock_url=lock_url, environ=environ)
    token = (read_token(token_file) if token_file else None) or str(uuid.uuid4())
    info = new_info(prod, dr, holder, purpose, environ)
    lock.acquire(info, token)
    if token_file:
        write_token(token_file, token)
    try:
        yield Held(info, token, lock.where)
    finally:
        lock.release(token)
        if token_file:
            token_file.unlink(missing_ok=True)


# --- the command ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m erdr.lock",
        description="Take, release or show the lock a deploy and the failover command share for a stack pair.",
    )
    p.add_argument("action", choices=["acquire", "release", "status"])
    p.add_argument("--stacks", required=True, help="prod=NAME,dr=NAME (as given to pulumi and erdr.failover)")
    p.add_argument("--holder", help="who holds it (default: the GitHub Actions run, or user@host)")
    p.add_argument("--purpose", default="", help="what for, shown to whoever is refused")
    p.add_argument("--backend", help="backend URL (default: the one the Pulumi CLI uses)")
    p.add_argument("--lock-url", help="where the lock lives (default: ERDR_LOCK_URL, else beside the state)")
    p.add_argument("--token-file", type=Path, help="acquisition token (default build/locks/<stacks>.token)")
    p.add_argument("--force", action="store_true", help="release: clear the lock whoever holds it")
    return p


def run(argv: list[str], environ: Mapping[str, str] | None = None, say: Callable[[str], None] = print) -> int:
    args = _parser().parse_args(argv)
    try:
        prod, dr = parse_stacks(args.stacks)
        lock = lock_for(prod, dr, backend=args.backend, lock_url=args.lock_url, environ=environ)
        token_file = args.token_file or DEFAULT_TOKEN_DIR / f"{lock_key(prod, dr)}.token"
        if args.action == "status":
            held = lock.status()
            say(f"locked by {held.describe()} ({lock.where})" if held else f"free ({lock.where})")
            return 1 if held else 0
        if args.action == "acquire":
            token = read_token(token_file) or str(uuid.uuid4())
            info = new_info(prod, dr, args.holder, args.purpose, environ)
            lock.acquire(info, token)
            write_token(token_file, token)
            say(f"locked by {info.describe()} ({lock.where}); token in {token_file}")
            return 0
        held = lock.release(read_token(token_file), force=args.force)
        token_file.unlink(missing_ok=True)
        was = f" (was held by {held.describe()})" if held else ""
        say(f"released {lock.where}{was}")
        return 0
    except (LockHeld, LockRefused) as exc:
        say(f"error: {exc}")
        return 1
    except LockError as exc:
        say(f"error: {exc}")
        return 2


def main(argv: list[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
