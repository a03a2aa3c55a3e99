"""Every case of the bad-input table (tests/bad_inputs) is refused with a
message that names the problem, and docs/reliability.md shows the table."""

import os
import subprocess
import sys

import pytest

from tests.bad_inputs import table
from tests.bad_inputs.export import exported_classifier  # noqa: F401
from tests.bad_inputs.export import exported_gpt  # noqa: F401
from tests.bad_inputs.export import exported_masked_lm  # noqa: F401
from tests.bad_inputs.export import exported_tagger  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = table.all_cases()


def test_the_table_has_enough_cases():
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_docs_show_the_table():
    with open(os.path.join(ROOT, "docs", "reliability.md")) as file:
        assert table.markdown(CASES) in file.read(), (
            "docs/reliability.md is out of date: paste the output of "
            "`python -m tests.bad_inputs.table` into it.")


def _contains(message, case):
    assert case.expect.lower() in message.lower(), (
        f"{case.id}: expected the message to say {case.expect!r}; it was:\n"
        f"{message}")


@pytest.mark.parametrize("case", [c for c in CASES if c.call is not None],
                         ids=lambda c: c.id)
def test_python_case(case, request):
    fixture = request.getfixturevalue(case.fixture) if case.fixture else None
    with pytest.raises(Exception) as caught:
        case.call(fixture) if case.fixture else case.call()
    _contains(str(caught.value), case)


@pytest.mark.parametrize("case", [c for c in CASES if c.argv is not None],
                         ids=lambda c: c.id)
def test_recipe_case(case, tmp_path):
    script, *flags = case.argv
    flags = [flag.replace("{tmp}", str(tmp_path)) for flag in flags]
    (tmp_path / "text.txt").write_text("A little text to read.\n" * 20)
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, script), *flags],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode != 0, f"{case.id} was accepted:\n{result.stdout}"
    _contains(result.stderr, case)
    assert "Traceback" not in result.stderr, result.stderr
