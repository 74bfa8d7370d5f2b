"""Reading Pulumi.yaml and Pulumi.<stack>.yaml the way the CLI merges them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from model.config import StackConfig, load

PROJECT_DIR = Path(__file__).resolve().parent.parent
NAMESPACE = "expressroute-dr"
# Stands in for a `secure:` value, which only the stack's secrets provider can decrypt.
SECRET_PLACEHOLDER = "offline-placeholder-secret"


@dataclass
class StackSettings:
    project: str
    stack: str
    config: dict[str, Any] = field(default_factory=dict[str, Any])
    secret_keys: set[str] = field(default_factory=set[str])

    def engine_config(self) -> dict[str, str]:
        """Config as the engine hands it to a program: namespaced keys, objects as JSON text."""
        out: dict[str, str] = {}
        for key, value in self.config.items():
            full = key if ":" in key else f"{self.project}:{key}"
            out[full] = value if isinstance(value, str) else json.dumps(value)
        return out

    def engine_secret_keys(self) -> list[str]:
        return [k if ":" in k else f"{self.project}:{k}" for k in self.secret_keys]


def _project_config(project: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        if isinstance(decl, dict) and "value" in decl:
            out[key] = decl["value"]
        elif isinstance(decl, dict) and "default" in decl:
            out[key] = decl["default"]
        elif not isinstance(decl, dict):
            out[key] = decl
    return out


def set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    """`--set a.b=v` / `pulumi config set --path a.b v`: set a nested key, creating objects."""
    parts = dotted.split(".")
    node = config
    for part in parts[:-1]:
        child = node.get(part)
        if isinstance(child, str):
            try:
                child = json.loads(child)
            except json.JSONDecodeError:
                child = None
        if not isinstance(child, dict):
            child = {}
        node[part] = child
        node = child
    node[parts[-1]] = value


def load_stack(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    stack_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> StackSettings:
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    name = project["name"]
    merged = _project_config(project)
    path = stack_file or project_dir / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text()) or {}
    secrets: set[str] = set()
    for full_key, value in (doc.get("config") or {}).items():
        key = full_key.split(":", 1)[1] if full_key.startswith(f"{name}:") else full_key
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = SECRET_PLACEHOLDER
            secrets.add(key)
        merged[key] = value
    for dotted, value in (overrides or {}).items():
        set_path(merged, dotted, value)
    return StackSettings(project=name, stack=stack, config=merged, secret_keys=secrets)


def stack_config(settings: StackSettings) -> StackConfig:
    """The validated model, read the way the program reads it (raises ConfigError)."""
    raw = {k: v for k, v in settings.config.items() if ":" not in k}
    return load(settings.stack, raw, frozenset(settings.secret_keys))
