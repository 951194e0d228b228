"""The README's Python examples run as written (those needing Gymnasium only where it is
installed), and its test command is the one CI runs."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example_runs(code, capsys):
    if "import gymnasium" in code:
        pytest.importorskip("gymnasium", minversion="1.1")  # same-step vector envs
        code = code.replace("total_steps=50_000", "total_steps=2_000")  # the example's budget, cut
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.strip(), "every example prints its result"


def test_the_readmes_test_command_is_exactly_what_ci_runs():
    commands = re.findall(r"```bash\n(.*?)\n```", README.read_text(), flags=re.S)
    test_command = next(c for c in commands if "pytest" in c)
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == test_command
