"""One user-error type, printed in one place: a UserError anywhere under a command is one line on stderr
and exit 2; any other exception (a bug, e.g. a ValueError from numpy or torch) keeps its traceback."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench.cli import app
from actbench.errors import UserError, not_allowed
from tests.factories import REPO, write_run

runner = CliRunner()


def test_not_allowed_lists_choices_and_suggests_close_ones() -> None:
    err = not_allowed("--format", "mdd", ["table", "md", "csv", "json"])
    assert isinstance(err, UserError) and isinstance(err, ValueError)
    assert str(err) == "--format: 'mdd' is not allowed (allowed: table, md, csv, json); did you mean 'md'?"
    assert "did you mean" not in str(not_allowed("--format", "xml", ["table", "md"]))


def test_every_user_error_class_is_a_user_error() -> None:
    from actbench.config import ConfigError
    from actbench.data.archives import ArchiveError
    from actbench.data.sources import DataError
    from actbench.report.groups import ReportError
    from actbench.runs import RunError
    from actbench.suites.spec import SuiteError

    for cls in (ConfigError, ArchiveError, DataError, ReportError, RunError, SuiteError):
        assert issubclass(cls, UserError), cls


def test_cli_never_turns_a_bare_value_error_into_a_user_error() -> None:
    """A handler in cli/ that catches ValueError (or Exception) and then fails the command would print a
    bug as a user's mistake, exit 2; only UserError (and its subclasses) may be turned into one line."""
    for path in sorted((REPO / "actbench" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                caught = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                body = {n.id if isinstance(n, ast.Name) else n.attr for s in node.body for n in ast.walk(s)
                        if isinstance(n, (ast.Name, ast.Attribute))}  # fmt: skip
                bare = caught & {"ValueError", "Exception", "BaseException"}
                assert not (bare and body & {"fail", "UserError", "Exit"}), f"{path.name}:{node.lineno}"


def test_a_user_error_deep_in_a_command_is_one_line_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(tmp_path), "--format", "mdd"])
    assert res.exit_code == 2, res.output
    assert res.output.strip() == (
        "error: --format: 'mdd' is not allowed (allowed: table, md, csv, latex, json); did you mean 'md'?"
    )


def test_a_bug_is_not_dressed_as_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ValueError from inside the evaluation (here injected) surfaces as the exception it is: exit 1
    with its traceback, not "error: ..." and exit 2 (eval --corruptions caught ValueError before)."""
    from actbench.robustness import evaluate as CE

    run = write_run(tmp_path, "relu-s0", "relu", 0)

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("operands could not be broadcast together")  # what numpy says on a bug

    monkeypatch.setattr(CE, "corruption_run", broken)
    res = runner.invoke(app, ["eval", str(run), "--corruptions", "gaussian_noise", "--severities", "1"])
    assert res.exit_code == 1 and isinstance(res.exception, ValueError), res.output
    assert "error:" not in res.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["train", "--bogus"], "error: No such option: --bogus"),
        (["sweep", "--workers", "abc"], "error: Invalid value for '--workers'"),
        (["report"], "error: Missing argument 'paths'."),
        (["sweep", "--acts"], "error: Option '--acts' requires an argument."),  # before click has a context
    ],
)
def test_usage_errors_are_one_line_like_every_other_error(args: list[str], line: str) -> None:
    """Typer drew these as 5-line boxed panels; now one line naming the help to read, exit 2."""
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert text.startswith(line) and text.count("\n") == 0 and "╭" not in text, text
    assert text.endswith(f" {args[0]} --help)")  # the program name: actbench (CliRunner says root)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("- 1\n", "top level must be a mapping of sections, got list"), ("x: [\n", ":2:1: YAML syntax error")],
)
def test_a_broken_run_config_is_named_once(tmp_path: Path, text: str, problem: str) -> None:
    """A run folder's config.yaml that does not parse: its path once, not `PATH: PATH: ...`."""
    (tmp_path / "config.yaml").write_text(text)
    path = tmp_path / "config.yaml"
    for args in (["eval", str(tmp_path)], ["train", "--resume", str(tmp_path)]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and res.output.startswith(f"error: {path}"), res.output
        assert res.output.count(str(path)) == 1 and problem in res.output, res.output


def test_a_user_error_quoting_a_newline_is_still_one_line() -> None:
    """A message quotes user text (a path, an --acts value) that may hold a line break: it was printed
    as given, so the one error line became two; the break is now shown escaped, as \\n."""
    res = runner.invoke(app, ["eval", "/nonexistent\nrun"])
    assert res.exit_code == 2, res.output
    assert res.output.strip() == "error: /nonexistent\\nrun: not a run folder (no config.yaml)", res.output
