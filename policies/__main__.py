"""Assembles the CrossGuard pack. Constructing PolicyPack serves gRPC forever: import nothing from here.

The CLI runs ``python -m pulumi.policy <engine> <this directory>``, which executes this file as a
script with the directory on ``sys.path``. The bootstrap below loads the directory as the package
``policies`` first, so every module of the pack imports its siblings relatively, exactly as when
the program imports ``policies.shared``.
"""

import importlib.util
import sys
from pathlib import Path

if "policies" not in sys.modules:
    _here = Path(__file__).resolve().parent
    _spec = importlib.util.spec_from_file_location(
        "policies", _here / "__init__.py", submodule_search_locations=[str(_here)]
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules["policies"] = _package = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_package)

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.framework import to_policy
from policies.pack import PACK_NAME, RULES
from policies.sdk_glue import keep_secret_marks, share_stack_decoding

# The SDK unwraps secrets before rules see them; the authorization-key rule needs the mark.
keep_secret_marks()
# The SDK decodes the whole stack once per stack policy; decode it once per request instead.
share_stack_decoding()

PolicyPack(
    name=PACK_NAME,
    description="DR networking for ExpressRoute + Site Recovery: address spaces, gateways, peerings, circuits.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[to_policy(rule) for rule in RULES],
)
