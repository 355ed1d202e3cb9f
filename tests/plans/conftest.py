"""The deadline tests' travelled clock and sweep, for activations' acknowledgement windows and escalation."""

from tests.deadlines.conftest import clock, sweep  # noqa: F401 - fixtures
