"""Every example planned the way the README shows it (`python -m erdr.plan --stacks-dir
examples/<name>`): policies, images, runbook, exit 0; and the pictures of a 100-spoke estate stay
readable and no wider than 4,000 px."""

from __future__ import annotations

import io
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from erdr import diagram, plan
from erdr.bench.stacks import scaled_layout
from erdr.stackfiles import PROJECT_DIR, load_stack
from model.config import Phase

EXAMPLES = sorted(p.name for p in (PROJECT_DIR / "examples").iterdir() if (p / "Pulumi.prod.yaml").is_file())
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PX = 4000
SVG_PX_PER_PT = 4 / 3  # CSS: 1pt = 1/72 in, 1px = 1/96 in


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    return width, height


def svg_width_px(data: bytes) -> float:
    root = ET.fromstring(data)
    width = root.get("width", "")
    match = re.fullmatch(r"([\d.]+)(pt|px)?", width)
    assert match, width
    return float(match[1]) * (SVG_PX_PER_PT if match[2] == "pt" else 1)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_plans_with_images_and_runbook(tmp_path: Path, example: str) -> None:
    out = tmp_path / "plan"
    stdout, stderr = io.StringIO(), io.StringIO()
    args = ["--stacks-dir", str(PROJECT_DIR / "examples" / example), "--out", str(out), "--jobs", "1", "-q"]
    code = plan.main(args, stdout=stdout, stderr=stderr)
    assert code == plan.EXIT_OK, stdout.getvalue() + stderr.getvalue()
    for name in ("prod", "prod-failover", "dr", "dr-failover"):
        width, height = png_size((out / f"{name}.png").read_bytes())
        assert 800 < width <= MAX_PX and height > 400, (name, width, height)
        assert svg_width_px((out / f"{name}.svg").read_bytes()) <= MAX_PX
    runbook = (out / "dr-runbook.md").read_text()
    assert runbook.startswith("# DR runbook:") and "## Failback" in runbook and "## Drill" in runbook
    assert "pass" in stdout.getvalue().splitlines()[2]


def test_a_hundred_spokes_draw_in_a_grid_no_wider_than_4000_px(tmp_path: Path) -> None:
    base = load_stack("prod").config["layout"]
    for stack in ("prod", "dr"):
        doc = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
        doc["config"]["expressroute-dr:layout"] = scaled_layout(base, 100)
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    opts = plan.Options(stacks=["prod", "dr"], stacks_dir=tmp_path, compare_phase=None, runbook=False, policy=False)
    planner = plan.Planner(opts, plan.Progress(0, io.StringIO(), quiet=True))
    planner.prepare()
    for name, stack in planner.plans.items():
        result = planner.simulate(name, Phase.STANDBY, False)
        topo = plan._topology(planner, stack, Phase.STANDBY, result)  # pyright: ignore[reportPrivateUsage]
        dot = diagram.to_dot(topo)
        # The GatewaySubnet's hundred routes are one short label, not a hundred prefixes.
        routes = next(line for line in dot.splitlines() if "GatewaySubnet" in line and "routes:" in line)
        assert "routes: 100 prefixes = 10.100.0.0/18, 10.100.64.0/19, 10.100.96.0/22 -> 10.10.10.10" in routes
        assert dot.count("rank=same") >= 100 // plan_columns()
        png, svg = diagram.render(dot, "png"), diagram.render(dot, "svg")
        width, height = png_size(png)
        assert width <= MAX_PX and svg_width_px(svg) <= MAX_PX, (name, width)
        assert height > width / 2  # it grew downwards, in rows
        (tmp_path / f"{name}.png").write_bytes(png)
        text = svg.decode()
        assert "spoke0099" in text and "100 peerings" in text


def plan_columns() -> int:
    return max(diagram.SPOKE_COLUMNS, diagram.OUTLINE_COLUMNS)
