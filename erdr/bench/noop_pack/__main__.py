"""One no-op stack policy: the SDK decodes every resource of the request and calls it."""

from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationArgs, StackValidationPolicy


def _nothing(args: StackValidationArgs, report_violation: object) -> None:
    # Touch the decoded list so the SDK cannot skip building it.
    if len(args.resources) < 0:
        raise AssertionError("unreachable")


PolicyPack(
    name="erdr-bench-noop",
    description="Baseline for the policy-scale benchmark: delivers the stack, checks nothing.",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        StackValidationPolicy(name="noop-stack", description="Checks nothing.", validate=_nothing),
    ],
)
