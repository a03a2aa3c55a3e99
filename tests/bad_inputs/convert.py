"""Bad-input cases: convert (see tests/bad_inputs/table.py)."""

from tests.bad_inputs.table import Case

CASES = []
