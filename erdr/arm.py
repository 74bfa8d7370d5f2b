"""Reading Azure Resource Manager: the one client set that erdr.discover and erdr.check share.

Microsoft's SDKs do the HTTP: ``azure-mgmt-network``'s ``NetworkManagementClient`` (api-version
2024-05-01 in the pinned 28.1.0, the version azure-native uses), ``azure-mgmt-recoveryservices``
for the vault and ``azure-mgmt-recoveryservicessiterecovery`` for what is inside it. Their
azure-core pipeline pages through ``nextLink``, polls long-running operations (``202`` +
``Location``) and retries throttled requests after ``Retry-After`` (azure-core ``RetryPolicy``,
``respect_retry_after_header``; ARM's limits: learn.microsoft.com/azure/azure-resource-manager/
management/request-limits-and-throttling).

``endpoint`` reads another ARM endpoint (a sovereign cloud, a recorded or fake one) with the bearer
token in ``ERDR_ARM_TOKEN``; plain ``http://`` is accepted for loopback addresses only. Without an
endpoint the credential is ``azure-identity``'s ``DefaultAzureCredential`` (the Azure CLI's login,
OIDC in CI).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.network import NetworkManagementClient

TOKEN_ENV = "ERDR_ARM_TOKEN"
PUBLIC_CLOUD = "https://management.azure.com"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class EndpointError(ValueError):
    """``--arm-endpoint`` or its token is unusable; the message says what to give instead."""


class StaticTokenCredential(TokenCredential):
    """A bearer token handed in from outside (``ERDR_ARM_TOKEN``), for ``--arm-endpoint``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        del scopes, kwargs
        return AccessToken(self._token, int(time.time()) + 3600)


class LoopbackHttp(SansIOHTTPPolicy[Any, Any]):
    """azure-core sends bearer tokens over HTTPS only; a loopback test endpoint speaks HTTP.
    The authentication policy reads this per-request option (azure/core/pipeline/policies/
    _authentication.py, ``_enforce_https``)."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        request.context.options["enforce_https"] = False


def credential(endpoint: str | None, environ: Mapping[str, str]) -> TokenCredential:
    """The token source: ``ERDR_ARM_TOKEN`` for ``endpoint``, else ``DefaultAzureCredential``."""
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise EndpointError(f"--arm-endpoint {endpoint!r}: expected https://host[:port]")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise EndpointError(f"--arm-endpoint {endpoint!r}: plain http only for loopback addresses; use https")
        token = environ.get(TOKEN_ENV)
        if not token:
            raise EndpointError(f"--arm-endpoint needs a bearer token in {TOKEN_ENV}")
        return StaticTokenCredential(token)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def client_options(endpoint: str | None, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for any azure-mgmt client: the endpoint and, for loopback HTTP, the
    policy that lets the token travel; ``extra`` (retry and timeout settings) passed on."""
    out: dict[str, Any] = dict(extra)
    if endpoint:
        out["base_url"] = endpoint
        if urlsplit(endpoint).scheme == "http":
            out["per_call_policies"] = [LoopbackHttp()]
    return out


def parse_id(arm_id: str) -> dict[str, str]:
    """{"subscription", "group", "type" (last resource type, lower-case), "name"} of an ARM ID."""
    parts = [p for p in arm_id.split("/") if p]
    lower = [p.lower() for p in parts]
    return {
        "subscription": parts[lower.index("subscriptions") + 1] if "subscriptions" in lower else "",
        "group": parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else "",
        "name": parts[-1],
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
    one vault), made once and shared by threads (azure-core's transport is one pooled session)."""

    def __init__(self, cred: TokenCredential, endpoint: str | None = None, **options: Any) -> None:
        self.credential = cred
        self.endpoint = endpoint
        self._options = options
        self._lock = threading.Lock()
        self._network: dict[str, NetworkManagementClient] = {}
        self._vaults: dict[str, Any] = {}
        self._site_recovery: dict[tuple[str, str, str], Any] = {}

    def network(self, subscription: str) -> NetworkManagementClient:
        with self._lock:
            if subscription not in self._network:
                self._network[subscription] = NetworkManagementClient(
                    self.credential, subscription, **client_options(self.endpoint, **self._options)
                )
            return self._network[subscription]

    def vaults(self, subscription: str) -> Any:
        from azure.mgmt.recoveryservices import RecoveryServicesClient

        with self._lock:
            if subscription not in self._vaults:
                self._vaults[subscription] = RecoveryServicesClient(
                    self.credential, subscription, **client_options(self.endpoint, **self._options)
                )
            return self._vaults[subscription]

    def site_recovery(self, subscription: str, group: str, vault: str) -> Any:
        from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

        key = (subscription, group, vault)
        with self._lock:
            if key not in self._site_recovery:
                self._site_recovery[key] = SiteRecoveryManagementClient(
                    self.credential, subscription, group, vault, **client_options(self.endpoint, **self._options)
                )
            return self._site_recovery[key]
