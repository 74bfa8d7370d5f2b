"""Assembles the CrossGuard pack. Constructing PolicyPack serves gRPC forever: import nothing from here."""

from framework import to_policy  # type: ignore[import-not-found]
from pack import PACK_NAME, RULES  # type: ignore[import-not-found]
from pulumi_policy import EnforcementLevel, PolicyPack
from servicer import share_stack_decoding  # type: ignore[import-not-found]
from values import keep_secret_marks  # type: ignore[import-not-found]

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
