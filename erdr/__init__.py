"""Tooling around the expressroute-dr program: offline simulation, plan, failover command."""
