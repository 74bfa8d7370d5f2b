"""The edges of the program: reading Pulumi config into the model, secrets, the peer stack."""

from __future__ import annotations

import pulumi
from pulumi.runtime.config import CONFIG, is_config_secret
from pulumi_azure_native import authorization

from components.network import ConnectionArgs
from model.config import ConfigError, Phase, StackConfig
from model.config.rules.keys import own_key, source_key
from model.identity import load, stack_subscription
from model.phases import ConnectionSpec, connection_plan
from policies.shared.names import NAMESPACE

_PREFIX = NAMESPACE + ":"


def raw_config() -> tuple[dict[str, object], frozenset[str]]:
    """Every key of this project's namespace (project-level merged with the stack's)."""
    raw = {k[len(_PREFIX) :]: v for k, v in CONFIG.get().items() if k.startswith(_PREFIX)}
    secrets = frozenset(k for k in raw if is_config_secret(_PREFIX + k))
    return raw, secrets


def foreign_config() -> tuple[dict[str, object], frozenset[str]]:
    """The stack's keys of every other namespace, and which of them are secrets."""
    foreign = {k: v for k, v in CONFIG.get().items() if not k.startswith(_PREFIX)}
    return foreign, frozenset(k for k in foreign if is_config_secret(k))


def read_config() -> StackConfig:
    raw, secrets = raw_config()
    foreign, foreign_secrets = foreign_config()
    try:
        cfg = load(pulumi.get_stack(), raw, secrets | foreign_secrets, foreign)
    except ConfigError as exc:
        # RunError prints the message alone, without a Python traceback.
        raise pulumi.RunError(str(exc)) from None
    if "azure-native:subscriptionId" not in foreign:  # set: config validation compared it
        check_deploy_subscription(cfg)
    return cfg


def check_deploy_subscription(cfg: StackConfig) -> None:
    """The default provider must deploy where the resolved estate says this stack lives: every ID
    the runbook, the recovery plan and the failover command use is computed from that. Without
    ``azure-native:subscriptionId`` the provider takes the Azure CLI's current subscription (or
    ``ARM_SUBSCRIPTION_ID``), so it is asked, before any resource is registered."""
    declared = stack_subscription(cfg, cfg.role)
    actual = authorization.get_client_config().subscription_id
    if actual.lower() != declared.lower():
        raise pulumi.RunError(
            f"stack '{pulumi.get_stack()}': the azure-native provider would deploy to subscription {actual} "
            f"(the Azure CLI's current subscription or ARM_SUBSCRIPTION_ID), but config "
            f"{NAMESPACE}:subscriptions.{cfg.role.value} is {declared}. Run `az account set --subscription "
            f"{declared}` or `pulumi config set azure-native:subscriptionId {declared}`, or correct "
            f"subscriptions.{cfg.role.value} in Pulumi.yaml."
        )


def authorization_key(circuit: str, *, of_source: bool = False) -> pulumi.Output[str] | None:
    """The key of this stack's connection to ``circuit`` (``<circuit>AuthorizationKey``), or with
    ``of_source`` the key of prod's (``source<Circuit>AuthorizationKey``, dr's recovery plan);
    always a secret, if set."""
    key = source_key(circuit) if of_source else own_key(circuit)
    raw, _ = raw_config()
    if key not in raw:
        return None
    return pulumi.Config(NAMESPACE).require_secret(key)


def _exclusive_gate(cfg: StackConfig, spec: ConnectionSpec) -> pulumi.Input[str]:
    """The circuit ID, released only once the peer stack no longer holds the circuit.

    With one circuit and the same IPs on both sides, two connections would put one address
    space on the circuit twice. The connection's ``peer`` input waits on the peer stack's
    ``circuitConnections`` output and fails the update, naming both stacks, while the peer still
    holds the circuit: no resource is created inside the check, only its input is withheld.
    """
    # Only the phases that (re)connect are gated: standby is the steady state, and gating it would
    # make the first `pulumi up` of either stack depend on the other stack existing.
    if not spec.exclusive or cfg.phase is Phase.STANDBY or cfg.peer_stack is None or cfg.source_region_unreachable:
        return spec.circuit_id
    peer = pulumi.StackReference(f"{NAMESPACE}-peer", stack_name=cfg.peer_stack)
    stack = pulumi.get_stack()
    wait = (
        f"Update '{cfg.peer_stack}' first (see the runbook), or set {NAMESPACE}:sourceRegionUnreachable "
        "true if the source region is down."
    )

    def check(outputs: object) -> str:
        # require_output semantics: a peer that does not say which circuits it holds is never
        # taken to hold none, whatever the reason (not deployed, an older program, a typo).
        held = outputs.get("circuitConnections") if isinstance(outputs, dict) else None
        if held is None:
            raise pulumi.RunError(
                f"stack '{stack}': connection {spec.name} must wait: peer stack '{cfg.peer_stack}' has no "
                "output circuitConnections, so nothing shows that it has let go of circuit "
                f"{spec.circuit_id}. Deploy '{cfg.peer_stack}' with this program (pulumi up) so it "
                f"exports circuitConnections, check {NAMESPACE}:peerStack, or set "
                f"{NAMESPACE}:sourceRegionUnreachable true if the source region is down."
            )
        if not isinstance(held, list) or not all(isinstance(h, str) for h in held):
            raise pulumi.RunError(
                f"stack '{stack}': connection {spec.name} must wait: peer stack '{cfg.peer_stack}' output "
                f"circuitConnections is {held!r}, not a list of circuit IDs, so it cannot show that circuit "
                f"{spec.circuit_id} is free. {wait}"
            )
        if spec.circuit_id.lower() in [h.lower() for h in held]:
            raise pulumi.RunError(
                f"stack '{stack}': connection {spec.name} must wait: peer stack "
                f"'{cfg.peer_stack}' still holds circuit {spec.circuit_id} with the same address "
                f"space. {wait}"
            )
        return spec.circuit_id

    return peer.outputs.apply(check)


def connections(cfg: StackConfig) -> list[ConnectionArgs]:
    return [
        ConnectionArgs(
            spec=spec, authorization_key=authorization_key(spec.circuit), circuit_id=_exclusive_gate(cfg, spec)
        )
        for spec in connection_plan(cfg, cfg.role, cfg.phase)
    ]
