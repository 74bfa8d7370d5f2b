"""Reading Pulumi.yaml and Pulumi.<stack>.yaml the way the CLI merges them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erdr import safe_yaml
from erdr.config_keys import (
    ConfigKey,
    ConfigKeyError,
    config_rm,
    config_set,
    format_path,
    merge_project,
    parse_config_key,
    parse_key,
    remove_path,
)
from erdr.config_keys import set_path as _set_at
from model.config import StackConfig
from model.config.errors import SHOWN
from model.identity import load
from policies.shared.names import NAMESPACE

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Stands in for a `secure:` value, which only the stack's secrets provider can decrypt. Each
# ciphertext gets its own placeholder: a secrets provider encrypts every value with a fresh nonce,
# so two different ciphertexts say nothing about the plaintexts, while one ciphertext copied to
# two keys is one value twice (and rules such as "one key, one connection" must still see that).
SECRET_PLACEHOLDER = "offline-placeholder-secret"


def secret_placeholder(ciphertext: object) -> str:
    """The plain value the offline run uses for one ``secure:`` value: distinct per ciphertext."""
    digest = hashlib.sha256(str(ciphertext).encode()).hexdigest()[:16]
    return f"{SECRET_PLACEHOLDER}-{digest}"


class StackFileError(Exception):
    """A stack file the CLI could not read either; the message names the file and the key."""


@dataclass
class StackSettings:
    project: str
    stack: str
    # Keys of the project's namespace without it ("layout"), other namespaces in full
    # ("azure-native:location"), as the CLI hands them to the program after the merge.
    config: dict[str, Any] = field(default_factory=dict[str, Any])
    secret_keys: set[str] = field(default_factory=set[str])
    # The stack file read, for messages that name it (None: config built in code).
    source: Path | None = None
    # What a `--set` did that a user may not expect (a project value replaced whole, a removal
    # that removed nothing), one line each.
    warnings: list[str] = field(default_factory=list[str])

    @property
    def file_label(self) -> str:
        return self.source.name if self.source is not None else f"Pulumi.{self.stack}.yaml"

    def engine_config(self) -> dict[str, str]:
        """Config as the engine hands it to a program: namespaced keys, objects as JSON text."""
        out: dict[str, str] = {}
        for key, value in self.config.items():
            full = key if ":" in key else f"{self.project}:{key}"
            out[full] = value if isinstance(value, str) else json.dumps(value)
        return out

    def engine_secret_keys(self) -> list[str]:
        return [k if ":" in k else f"{self.project}:{k}" for k in self.secret_keys]

    def project_config(self) -> tuple[dict[str, Any], frozenset[str]]:
        """The project namespace's keys (without it) and which of them are secrets."""
        own = {k: v for k, v in self.config.items() if ":" not in k}
        return own, frozenset(k for k in self.secret_keys if ":" not in k)

    def deploy_subscription(self) -> str | None:
        """The subscription the stack's azure-native provider deploys to: ``azure-native:subscriptionId``
        if set, else the one the stack declares for its role (``subscriptions.<role>``)."""
        explicit = self.config.get("azure-native:subscriptionId")
        if isinstance(explicit, str) and explicit:
            return explicit
        subs = self.config.get("subscriptions")
        if isinstance(subs, str):
            try:
                subs = json.loads(subs)
            except ValueError:
                return None
        role = self.config.get("role")
        found = subs.get(role) if isinstance(subs, dict) and isinstance(role, str) else None
        return found if isinstance(found, str) else None

    def foreign_config(self) -> dict[str, Any]:
        """Keys of every other namespace, in full (``azure-native:location``)."""
        return {k: v for k, v in self.config.items() if ":" in k}


# Where an override lands: "stack" is `pulumi config set --path` (or `config rm --path` for None)
# on the stack file, before Pulumi.yaml's values are merged in; "merged" edits the config the
# program reads, after the merge (as if the file holding the key said so): not a CLI command.
STACK_FILE, MERGED = "stack", "merged"


@dataclass(frozen=True)
class Override:
    """One ``--set`` (scope "stack") or ``--override`` (scope "merged"): a key (namespace and
    path) and its value; ``None`` unsets it."""

    key: ConfigKey
    value: Any
    text: str = ""
    scope: str = MERGED


def _local_key(project: str, namespace: str, name: str) -> str:
    return name if namespace == project else f"{namespace}:{name}"


def _project_config(project: dict[str, Any], name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        local = _local_key(name, *parse_key(key)) if ":" in key else key
        if isinstance(decl, dict) and "value" in decl:
            out[local] = decl["value"]
        elif isinstance(decl, dict) and "default" in decl:
            out[local] = decl["default"]
        elif not isinstance(decl, dict):
            out[local] = decl
    return out


def set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    """`pulumi config set --path a.b v`: set a nested key of the project's namespace, creating
    objects and arrays on the way (the CLI's rules: :func:`erdr.config_keys.set_path`)."""
    _set_at(config, parse_config_key(dotted, NAMESPACE).path, value)


def apply_override(settings: StackSettings, override: Override) -> None:
    """Set (or, for ``None``, remove) the override's key, as ``pulumi config set --path`` (or
    ``pulumi config rm --path``) would in this stack's merged config."""
    key = override.key
    top = _local_key(settings.project, key.namespace, str(key.path[0]))
    path = (top, *key.path[1:])
    if override.value is None:
        remove_path(settings.config, path)
    else:
        _set_at(settings.config, path, override.value)
    # A value given here is plain text (as `config set` without --secret): the key is no secret now.
    settings.secret_keys.discard(top)


def _stack_file_set(
    stack_file: dict[str, Any], project: Mapping[str, Any], settings: StackSettings, override: Override
) -> None:
    """``pulumi config set --path`` / ``config rm --path`` on the stack file's config."""
    key = override.key
    top = _local_key(settings.project, key.namespace, str(key.path[0]))
    path = (top, *key.path[1:])
    where = f"stack '{settings.stack}': --set {override.text or format_path(key.path)!r} ({settings.file_label})"
    if override.value is None:
        warning = config_rm(stack_file, project, path, where=where)
    else:
        warning = config_set(stack_file, project, path, override.value, where=where)
    settings.secret_keys.discard(top)  # a value given here is plain text, as `config set` without --secret
    if warning:
        settings.warnings.append(warning)


def overrides_from(mapping: Mapping[str, Any], project: str = NAMESPACE) -> list[Override]:
    """``{"a.b": value}`` (paths of the project's namespace unless they name one) as overrides."""
    return [Override(parse_config_key(k, project), v, k) for k, v in mapping.items()]


def load_stack(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    stack_file: Path | None = None,
    overrides: Mapping[str, Any] | Sequence[Override] | None = None,
) -> StackSettings:
    project = safe_yaml.load_file(project_dir / "Pulumi.yaml")
    name = project["name"]
    project_values = _project_config(project, name)
    path = stack_file or project_dir / f"Pulumi.{stack}.yaml"
    doc = safe_yaml.load_file(path) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("config") or {}, dict):
        raise StackFileError(f"{path.name}: expected a mapping with a `config:` mapping of <namespace>:<name> keys")
    secrets: set[str] = set()
    own: dict[str, Any] = {}
    for full_key, value in (doc.get("config") or {}).items():
        try:
            namespace, key_name = parse_key(str(full_key))
        except ConfigKeyError as exc:
            raise StackFileError(f"{path.name}: {exc}") from None
        key = _local_key(name, namespace, key_name)
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = secret_placeholder(value["secure"])
            secrets.add(key)
        own[key] = value
    settings = StackSettings(project=name, stack=stack, config={}, secret_keys=secrets, source=path)
    items = overrides_from(overrides, name) if isinstance(overrides, Mapping) else list(overrides or [])
    for item in (i for i in items if i.scope == STACK_FILE):
        try:
            _stack_file_set(own, project_values, settings, item)
        except ConfigKeyError as exc:
            raise ConfigKeyError(f"{item.text or format_path(item.key.path)}: {exc}") from None
    settings.config = merge_project(own, project_values)
    for item in (i for i in items if i.scope != STACK_FILE):
        try:
            apply_override(settings, item)
        except ConfigKeyError as exc:
            where = item.text if len(item.text) <= SHOWN else item.text[: SHOWN - 3] + "..."
            raise ConfigKeyError(f"{where or format_path(item.key.path)}: {exc}") from None
    return settings


def stack_config(settings: StackSettings) -> StackConfig:
    """The validated model, read the way the program reads it (raises ConfigError): the project's
    keys, and every other namespace's, which must be one a stack may use."""
    raw, secrets = settings.project_config()
    foreign = settings.foreign_config()
    foreign_secrets = frozenset(k for k in settings.secret_keys if ":" in k)
    return load(settings.stack, raw, secrets | foreign_secrets, foreign)
