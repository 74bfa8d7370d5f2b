"""The evaluation-cost floor program, run by erdr.simulate under the mock runtime."""

from erdr.bench.floor import register_floor

register_floor()
