"""docs/commands.md documents the CLI as it is (the README: "every command and option is in
docs/commands.md"), checked against the real Typer app, both ways.

The page's convention: a bullet list of entries, each a line `- CODE: what it does` whose code span
names the command (e.g. `actbench suite report DIR [--baseline relu] ...`); a command may have several
entries (`train`, and `train --resume`). A command's section is the text of all its entries. Checked:

- every command (and a group with options of its own, e.g. `actbench --version`) has an entry;
- every long option of a command is mentioned in its section (either name of a `--x/--no-x` flag);
- every `--option` written in a command's section exists on that command, every one in the page's
  other prose exists on some command, and every `actbench ...` line of a code block names a real command
  and only its options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer.main

from actbench.cli import app

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "commands.md"
PAGE_NAME = "docs/commands.md"

OPTION = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")  # --workers, --a; not `a--b` or `---`
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`]+)`")
ENTRY_START = re.compile(r"^- ")

# Options of another command that an entry's prose names on purpose. Keep it short: each says why.
ALLOWED_ELSEWHERE: dict[str, set[str]] = {
    # "what `sweep --pack` runs per pack": train-pack is the command a packed sweep runs per process
    "actbench train-pack": {"--pack"},
}


def _cli() -> Any:
    return typer.main.get_command(app)


def _commands(cmd: Any | None = None, path: str = "actbench") -> dict[str, Any]:
    """Every command and group of the app by its path ("actbench", "actbench suite run", ...)."""
    cmd = cmd if cmd is not None else _cli()
    found = {path: cmd}
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            found.update(_commands(sub, f"{path} {name}"))
    return found


def _options(cmd: Any) -> list[list[str]]:
    """The long names of each visible option of `cmd` (`--help` is not a parameter: click adds it)."""
    options = []
    for p in cmd.params:
        if p.param_type_name != "option" or getattr(p, "hidden", False):
            continue
        names = [n for n in [*p.opts, *p.secondary_opts] if n.startswith("--")]
        if names:
            options.append(names)
    return options


def _needs_entry(cmd: Any) -> bool:
    """A command needs an entry; a group only when it has options of its own (its commands have theirs)."""
    return not hasattr(cmd, "commands") or bool(_options(cmd))


def _resolve(command_line: str) -> str:
    """The command a line like `actbench suite run SUITE --acts ...` names: descend into groups while the
    next word is one of their commands; a group followed by another word names no command."""
    words = command_line.split()
    assert words and words[0] == "actbench", command_line
    cmd, path = _cli(), "actbench"
    for word in words[1:]:
        subs = getattr(cmd, "commands", None)
        if subs is None or word.startswith(("-", "[")):
            break
        if word not in subs:
            raise ValueError(
                f"{PAGE_NAME}: `{command_line}` names no command: `{path}` has no command {word!r} "
                f"(it has: {', '.join(sorted(subs))})"
            )
        cmd, path = subs[word], f"{path} {word}"
    return path


@dataclass
class Page:
    sections: dict[str, list[str]] = field(default_factory=dict)  # command path -> its entries
    prose: str = ""  # everything else, code blocks left out
    examples: list[str] = field(default_factory=list)  # `actbench ...` lines of code blocks
    unknown: list[str] = field(default_factory=list)  # entries naming no command: why


def _parse(text: str) -> Page:
    page = Page()
    page.examples = [
        line.split(" #", 1)[0].strip()
        for block in FENCE.findall(text)
        for line in block.splitlines()
        if line.strip().startswith("actbench ")
    ]
    entries: list[str] = []
    prose: list[str] = []
    in_entry = False
    for line in FENCE.sub("", text).splitlines():
        if ENTRY_START.match(line):
            entries.append(line)
            in_entry = True
        elif in_entry and line.startswith((" ", "\t")) and line.strip():
            entries[-1] += "\n" + line  # the entry's indented continuation
        else:
            prose.append(line)
            in_entry = False
    for entry in entries:
        head = CODE_SPAN.search(entry)
        if head is None or not head.group(1).startswith("actbench"):
            prose.append(entry)  # a bullet that is not a command entry
            continue
        try:
            page.sections.setdefault(_resolve(head.group(1)), []).append(entry)
        except ValueError as exc:
            page.unknown.append(str(exc))
    page.prose = "\n".join(prose)
    return page


PAGE_TEXT = _parse(PAGE.read_text(encoding="utf-8"))
COMMANDS = _commands()


def _section(path: str) -> str:
    return "\n".join(PAGE_TEXT.sections.get(path, []))


def test_the_parser_sees_the_page():
    # The checks below must not pass by finding nothing.
    assert {"actbench train", "actbench suite run", "actbench eval"} <= set(PAGE_TEXT.sections)
    assert "--workers" in _section("actbench sweep") and "--checkpoint" in _section("actbench eval")
    assert len(PAGE_TEXT.examples) >= 5, PAGE_TEXT.examples
    assert "actbench suite report" in COMMANDS and "actbench export" in COMMANDS
    assert ["--predictions", "--no-predictions"] in _options(COMMANDS["actbench eval"])


def test_every_entry_names_a_command():
    assert not PAGE_TEXT.unknown, "\n".join(PAGE_TEXT.unknown)


def test_every_command_has_an_entry():
    missing = [p for p, cmd in COMMANDS.items() if _needs_entry(cmd) and p not in PAGE_TEXT.sections]
    assert not missing, (
        f"{PAGE_NAME} has no entry for: {', '.join(f'`{p}`' for p in missing)}; add a bullet to the command "
        f"list starting with the command in a code span (- `{missing[0]} ...`: what it does)"
    )


@pytest.mark.parametrize("path", [p for p, cmd in COMMANDS.items() if _needs_entry(cmd)])
def test_every_option_is_documented(path: str):
    section = set(OPTION.findall(_section(path)))
    missing = [names for names in _options(COMMANDS[path]) if not section & set(names)]
    assert not missing, (
        f"{PAGE_NAME}: `{path}` does not document "
        + ", ".join("/".join(names) for names in missing)
        + f": mention each in an entry of `{path}` (see `{path} --help`)"
    )


@pytest.mark.parametrize("path", sorted(PAGE_TEXT.sections))
def test_documented_options_exist(path: str):
    real = {n for names in _options(COMMANDS[path]) for n in names} | {"--help"}
    allowed = ALLOWED_ELSEWHERE.get(path, set())
    unknown = sorted(set(OPTION.findall(_section(path))) - real - allowed)
    assert not unknown, (
        f"{PAGE_NAME}: the entry of `{path}` names {', '.join(unknown)}, which `{path}` does not have "
        f"(its options: {', '.join(sorted(real))})"
    )


def test_allowances_are_used():
    # An allowance the page no longer needs goes, so the list stays short.
    for path, options in ALLOWED_ELSEWHERE.items():
        section = set(OPTION.findall(_section(path)))
        assert options <= section, f"ALLOWED_ELSEWHERE[{path!r}]: {sorted(options - section)} no longer used"
        real = {n for names in _options(COMMANDS[path]) for n in names}
        assert not options & real, f"ALLOWED_ELSEWHERE[{path!r}]: {sorted(options & real)} are its own"


def test_options_in_the_prose_exist():
    anywhere = {n for cmd in COMMANDS.values() for names in _options(cmd) for n in names}
    unknown = sorted(set(OPTION.findall(PAGE_TEXT.prose)) - anywhere - {"--help"})
    assert not unknown, f"{PAGE_NAME} names {', '.join(unknown)} in its prose: no actbench command has it"


@pytest.mark.parametrize("example", PAGE_TEXT.examples)
def test_examples_use_real_options(example: str):
    try:
        path = _resolve(example)
    except ValueError as exc:
        pytest.fail(str(exc))
    real = {n for names in _options(COMMANDS[path]) for n in names} | {"--help"}
    unknown = sorted(set(OPTION.findall(example)) - real)
    assert not unknown, f"{PAGE_NAME}: example `{example}`: `{path}` has no {', '.join(unknown)}"
