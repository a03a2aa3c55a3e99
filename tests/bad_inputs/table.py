"""The bad-input table: each case is an input that must be refused with a
message naming the problem. tests/test_bad_input_table.py runs every case;
docs/reliability.md shows the table, printed by

    python -m tests.bad_inputs.table

and a test checks that the page holds exactly that table.

A case is either `Case(area, given, expect, call=...)`, for the Python
API: `call()` (or `call(value)` of the pytest fixture named by `fixture=`)
must raise; or `Case(area, given, expect, argv=(...))`, for a recipe run
(`{tmp}` in a flag is the test's temporary dir, also its working dir,
holding a small `text.txt`): it must exit non-zero, print `expect`, and
print no traceback. `expect` is plain text that the message must contain
(case-insensitive): it is what the docs show.
"""

import dataclasses
import sys
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Case:
    area: str  # "recipe", "python", "export", "convert"
    given: str  # the input, as the docs show it
    expect: str  # text the message must contain
    call: Callable = None  # call(fixture) must raise
    argv: tuple = None  # a recipe run: ("recipes/x.py", "--flag=...", ...)
    fixture: str = None  # the pytest fixture `call` gets, if any

    @property
    def id(self):
        return f"{self.area}: {self.given}"


def all_cases():
    from tests.bad_inputs import convert
    from tests.bad_inputs import export
    from tests.bad_inputs import python
    from tests.bad_inputs import recipes
    return (recipes.CASES + python.CASES + export.CASES + convert.CASES)


def markdown(cases):
    lines = ["| Where | Input | The message says |", "|---|---|---|"]
    for case in cases:
        given = case.given.replace("|", "\\|")
        expect = case.expect.replace("|", "\\|")
        lines.append(f"| {case.area} | {given} | {expect} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown(all_cases()))
