"""What `erdr.failover --resume` tells the operator to run after an interrupted update
(erdr/pulumi_cli.py clearing_commands): exact, in a safe order, and with the subscription."""

from __future__ import annotations

from erdr.pulumi_cli import BackendLock, PendingOperation, StackHealth, clearing_commands

CONN = "azure-native:network:VirtualNetworkGatewayConnection"
URN = f"urn:pulumi:dr::expressroute-dr::erdr:network:Hub${CONN}::hub-primary-connection"
SUB = "7a000000-0000-4000-8000-000000000002"


def _health(*locks: BackendLock) -> StackHealth:
    pending = [PendingOperation("creating", URN, CONN, "vnet-hub-sea-to-primary", "rg-conn-sea")]
    return StackHealth("dr", pending=pending, locks=list(locks))


def test_a_pending_connection_create_is_checked_in_its_own_subscription() -> None:
    lines = clearing_commands(_health(), {"vnet-hub-sea-to-primary": SUB})
    (check,) = [line for line in lines if "az network vpn-connection show" in line]
    assert f"--resource-group rg-conn-sea --name vnet-hub-sea-to-primary --subscription {SUB}" in check
    assert any(f"--import-pending-creates '{URN}'" in line for line in lines)
    assert any("--clear-pending-creates" in line for line in lines)


def test_a_running_update_comes_first_and_its_pending_operations_only_after_it() -> None:
    running = BackendLock("diy", ".pulumi/locks/x.json", "ops@host (pid 4242)", pid=4242, host="host", alive=True)
    lines = clearing_commands(_health(running), {})
    wait = next(i for i, line in enumerate(lines) if "kill -0 4242" in line)
    after = next(i for i, line in enumerate(lines) if line.startswith("once that update has ended"))
    refresh = next(i for i, line in enumerate(lines) if "pulumi refresh" in line)
    assert wait < after < refresh
    assert not any(line.strip().startswith("pulumi cancel") for line in lines)


def test_control_a_stale_lock_is_cleared_and_nothing_waits() -> None:
    stale = BackendLock("diy", ".pulumi/locks/x.json", "ops@host (pid 1)", pid=1, host="host", alive=False)
    lines = clearing_commands(_health(stale), {})
    assert any("pulumi cancel --stack dr --yes" in line for line in lines)
    assert not any(line.startswith("once that update has ended") for line in lines)
