"""Write the JSON Schema of the stack config: `python -m erdr.schema` (tests check it is current)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from model.config import json_schema

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "config.schema.json"


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH.relative_to(Path.cwd()) if SCHEMA_PATH.is_relative_to(Path.cwd()) else SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
