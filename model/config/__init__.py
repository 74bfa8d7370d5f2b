"""The stack config: validated once, at the edge, before any resource is registered.

Stack YAML and project-level config -> :func:`load` -> :class:`StackConfig`.

- ``errors.py``: :class:`ConfigError` and the one-line :class:`Issue` (stack, key path, value);
- ``types.py``: CIDR, address, name, ARM ID and region types with their validators;
- ``models.py``: the enums and pydantic models (camelCase keys, unknown keys refused);
- ``loading.py``: :func:`load`, secrets, and pydantic's errors in the same one-line form;
- ``rules/``: the rules that span fields, by concern (layout, addressing, circuits, topology,
  drill and recovery plan);
- ``namespaces.py``: the config namespaces a stack may use (a misspelt one is refused);
- ``pair.py``: what the source and the target stack must agree on.
"""

from model.config.errors import ConfigError, HiddenValue, Issue
from model.config.loading import json_schema, load
from model.config.models import (
    SECRET_KEYS,
    Addressing,
    AdoptedVnet,
    BootGroup,
    Circuit,
    Circuits,
    Design,
    DrillConfig,
    GatewayConfig,
    HubLayout,
    Layout,
    Phase,
    RecoveryPlanConfig,
    Regions,
    ResourceGroupNames,
    Role,
    RoutingWeights,
    SiteRecoveryConfig,
    SpokeLayout,
    StackConfig,
    SubnetLayout,
    Topology,
    exclusive_circuit,
    target_pre_connected,
)

__all__ = [
    "SECRET_KEYS",
    "Addressing",
    "AdoptedVnet",
    "BootGroup",
    "Circuit",
    "Circuits",
    "ConfigError",
    "Design",
    "DrillConfig",
    "GatewayConfig",
    "HiddenValue",
    "HubLayout",
    "Issue",
    "Layout",
    "Phase",
    "RecoveryPlanConfig",
    "Regions",
    "ResourceGroupNames",
    "Role",
    "RoutingWeights",
    "SiteRecoveryConfig",
    "SpokeLayout",
    "StackConfig",
    "SubnetLayout",
    "Topology",
    "exclusive_circuit",
    "json_schema",
    "load",
    "target_pre_connected",
]
