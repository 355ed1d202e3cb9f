"""The deadline tests' travelled clock and sweep, for the work-order clocks."""

from tests.deadlines.conftest import clock, sweep  # noqa: F401 - fixtures
