"""How the tools reach Azure Resource Manager: which endpoint, which token, where the token may go,
and how long a read may take.

Shared by ``erdr.discover`` and the failover command's connection check. Both read ARM through
Microsoft's SDK pipeline (``azure-mgmt-network``'s client: bearer token, ``Retry-After``-aware
retries); this module adds what the SDK leaves open:

- the endpoint: the public cloud by default, another one with ``--arm-endpoint`` (a sovereign
  cloud, a recorded or fake ARM) and the bearer token in ``ERDR_ARM_TOKEN``; plain ``http://``
  for loopback addresses only;
- the token goes to the endpoint's own origin (scheme, host, port) and nowhere else: a request to
  any other origin (a ``nextLink`` pointing elsewhere) is refused before the token is attached
  (azure-core strips it on redirects, ``SensitiveHeaderCleanupPolicy``, but not on a page link);
- per-call timeouts: the SDK's transport waits 300 s to connect and 300 s per read, and its retry
  policy retries 3 times (``azure/core/pipeline/transport/_requests_basic.py``,
  ``azure/core/pipeline/policies/_retry.py``): about 20 minutes against an ARM that never
  answers. :data:`CALL_TIMEOUTS` bounds each call, and :func:`within` puts a hard deadline on a
  whole read (token, retries and a server that trickles bytes included).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

ARM_ENDPOINT = "https://management.azure.com"
TOKEN_ENV = "ERDR_ARM_TOKEN"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_DEFAULT_PORTS = {"https": 443, "http": 80}

T = TypeVar("T")


class ArmEndpointError(Exception):
    """The endpoint or its token cannot be used; the message says what to fix."""


class ArmRefused(Exception):
    """A request this module will not send (the token would leave the endpoint's origin)."""


class ArmDeadline(Exception):
    """A read did not finish within its deadline."""


@dataclass(frozen=True)
class CallTimeouts:
    """Bounds of one ARM read: TCP connect, each socket read, retries after a failure, and the
    whole read (token, every attempt, every ``Retry-After`` wait)."""

    connect: float = 10.0
    read: float = 20.0
    retries: int = 2
    deadline: float = 60.0

    def client_options(self) -> dict[str, Any]:
        """Keywords for an azure-mgmt client: its transport's timeouts and its retry policy.
        ``retry_backoff_max`` keeps a large ``Retry-After`` within the deadline;
        ``timeout`` is the retry policy's own limit for the whole operation."""
        return {
            "connection_timeout": self.connect,
            "read_timeout": self.read,
            "retry_total": self.retries,
            "retry_backoff_max": min(30.0, self.deadline),
            "timeout": self.deadline,
        }


CALL_TIMEOUTS = CallTimeouts()


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, default ports filled in, host lower-case."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def check_endpoint(endpoint: str, flag: str = "--arm-endpoint") -> str:
    """The endpoint without a trailing slash; https, or http to a loopback address only."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ArmEndpointError(f"{flag} {endpoint!r}: expected https://host[:port]")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ArmEndpointError(f"{flag} {endpoint!r}: plain http only for loopback addresses; use https")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ArmEndpointError(f"{flag} {endpoint!r}: expected only scheme, host, port and path")
    return endpoint.rstrip("/")


class StaticTokenCredential(TokenCredential):
    """A bearer token handed in from outside (``ERDR_ARM_TOKEN``), for ``--arm-endpoint``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        del scopes, kwargs
        return AccessToken(self._token, int(time.time()) + 3600)


def credential_for(endpoint: str | None, environ: Mapping[str, str], flag: str = "--arm-endpoint") -> TokenCredential:
    """``ERDR_ARM_TOKEN`` for an explicit endpoint; otherwise ``DefaultAzureCredential`` (the Azure
    CLI's login, a managed identity, OIDC in CI)."""
    if endpoint:
        check_endpoint(endpoint, flag)
        token = environ.get(TOKEN_ENV)
        if not token:
            raise ArmEndpointError(f"{flag} needs a bearer token in {TOKEN_ENV}")
        return StaticTokenCredential(token)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class _LoopbackHttp(SansIOHTTPPolicy[Any, Any]):
    """azure-core sends bearer tokens over HTTPS only; a loopback test endpoint speaks HTTP.
    The authentication policy reads this per-request option (azure/core/pipeline/policies/
    _authentication.py, ``_enforce_https``)."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        request.context.options["enforce_https"] = False


class TokenOnlyToEndpoint(SansIOHTTPPolicy[Any, Any]):
    """Refuses any request to another origin than the endpoint's. Runs after the retry policy and
    before the authentication policy (``per_retry_policies``), so a refused request never carries
    the token, redirected or not."""

    def __init__(self, endpoint: str) -> None:
        self._origin = origin(endpoint)
        self._endpoint = endpoint

    def on_request(self, request: PipelineRequest[Any]) -> None:
        url = str(request.http_request.url)
        if origin(url) != self._origin:
            request.http_request.headers.pop("Authorization", None)
            raise ArmRefused(f"refused to send the ARM token to {url!r}: not the endpoint {self._endpoint}")


def client_options(endpoint: str, timeouts: CallTimeouts = CALL_TIMEOUTS) -> dict[str, Any]:
    """Keywords for an azure-mgmt client on ``endpoint``: the endpoint, the token guard, plain
    http for loopback, the timeouts."""
    endpoint = check_endpoint(endpoint)
    options: dict[str, Any] = {
        "base_url": endpoint,
        "per_retry_policies": [TokenOnlyToEndpoint(endpoint)],
        **timeouts.client_options(),
    }
    if urlsplit(endpoint).scheme == "http":
        options["per_call_policies"] = [_LoopbackHttp()]
    return options


def within(seconds: float, what: str, fn: Callable[[], T]) -> T:
    """``fn()``, or :class:`ArmDeadline` once ``seconds`` have passed. The call runs in a daemon
    thread that is left behind on timeout (its own socket timeouts end it): a socket read cannot be
    interrupted from outside, and a server that sends a byte every few seconds never trips the
    per-read timeout."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"arm-read {what}", daemon=True)
    thread.start()
    if not done.wait(seconds):
        raise ArmDeadline(f"no answer within {seconds:g} s ({what})")
    if "error" in box:
        raise box["error"]
    return box["value"]


# --- what erdr.check reads through: Microsoft's SDK clients, one per subscription (and vault) ----

EndpointError = ArmEndpointError


def credential(endpoint: str | None, environ: Mapping[str, str]) -> TokenCredential:
    """The token source: ``ERDR_ARM_TOKEN`` for ``endpoint``, else ``DefaultAzureCredential``."""
    return credential_for(endpoint, environ)


def parse_id(arm_id: str) -> dict[str, str]:
    """{"subscription", "group", "type" (last resource type, lower-case), "name"} of an ARM ID."""
    parts = [p for p in arm_id.split("/") if p]
    lower = [p.lower() for p in parts]
    return {
        "subscription": parts[lower.index("subscriptions") + 1] if "subscriptions" in lower[:-1] else "",
        "group": parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower[:-1] else "",
        "name": parts[-1] if parts else "",
        "type": lower[-2] if len(parts) >= 2 else "",
    }


def describe_error(exc: Exception) -> str:
    """One line: ARM's error code and message (AuthorizationFailed, ResourceNotFound, ...)."""
    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None) or str(exc.status_code or "")
        message = getattr(getattr(exc, "error", None), "message", None) or str(exc.message or exc)
        return f"HTTP {exc.status_code} {code}: {message.splitlines()[0]}"
    return f"{type(exc).__name__}: {exc}"


def body_of(model: Any) -> dict[str, Any]:
    """The resource as ARM sent it (camelCase, ``properties`` nested), read-only values kept."""
    if hasattr(model, "serialize"):  # the msrest models of the azure-mgmt packages
        return model.serialize(keep_readonly=True)
    return model.as_dict() if hasattr(model, "as_dict") else dict(model)


class Clients:
    """One SDK client per subscription (and per vault for Site Recovery, whose client is bound to
    one vault), made once and shared by threads (azure-core's transport is one pooled session).
    Every client gets :func:`client_options`: the endpoint, the token guard and the timeouts;
    ``options`` (retry and timeout settings of the caller) override the timeouts."""

    def __init__(self, cred: TokenCredential, endpoint: str | None = None, **options: Any) -> None:
        self.credential = cred
        self.endpoint = check_endpoint(endpoint) if endpoint else ARM_ENDPOINT
        self._options = {**client_options(self.endpoint), **options}
        self._lock = threading.Lock()
        self._network: dict[str, Any] = {}
        self._vaults: dict[str, Any] = {}
        self._site_recovery: dict[tuple[str, str, str], Any] = {}

    def network(self, subscription: str) -> Any:
        from azure.mgmt.network import NetworkManagementClient

        with self._lock:
            if subscription not in self._network:
                self._network[subscription] = NetworkManagementClient(self.credential, subscription, **self._options)
            return self._network[subscription]

    def vaults(self, subscription: str) -> Any:
        from azure.mgmt.recoveryservices import RecoveryServicesClient

        with self._lock:
            if subscription not in self._vaults:
                self._vaults[subscription] = RecoveryServicesClient(self.credential, subscription, **self._options)
            return self._vaults[subscription]

    def site_recovery(self, subscription: str, group: str, vault: str) -> Any:
        from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

        key = (subscription, group, vault)
        with self._lock:
            if key not in self._site_recovery:
                self._site_recovery[key] = SiteRecoveryManagementClient(
                    self.credential, subscription, group, vault, **self._options
                )
            return self._site_recovery[key]
