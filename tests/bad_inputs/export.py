"""Bad-input cases: export (see tests/bad_inputs/table.py)."""

from tests.bad_inputs.table import Case

CASES = []
