"""The reference docs keep up with the code (in the manner of sqlite-utils' test_docs.py).

Each test reads the code (the click command tree, the peewee models, the built-in routing
profiles) and fails when something exists there that docs/ does not describe, or when
docs/ describes something the code no longer has. Adding a command, an option, a table,
a column, an incident type or a time standard therefore means updating the docs.

Conventions the docs follow (and these tests rely on):
- docs/cli.md: one heading per command, the full path in backticks, e.g. "### `siaga112 user add`";
  the options of a command are named in its own section (up to the next heading).
- docs/data-model.md: one heading per table, the table name in backticks, e.g. "### `incident`";
  the section's first line begins with **Replicated or **Node-local; each column is named as `column`.
- docs/profiles.md: a table row per incident type (code, Indonesian name, agencies) and a table of
  SOP time standards with one column per built-in profile (header cell `profile-id`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from edge.cli import main
from edge.models import ALL_MODELS, REPLICATED_MODELS
from edge.profile import SOP_STEP_KEYS, builtin_names, load_profile

DOCS = Path(__file__).resolve().parent.parent / "docs"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def sections(path: Path) -> dict[str, str]:
    """Heading text (backticks kept) -> the text under it up to the next heading of any level.

    Lines inside fenced code blocks are never headings (a shell comment is not a heading)."""
    out: dict[str, str] = {}
    title: str | None = None
    body: list[str] = []
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line)
        if match:
            if title is not None:
                out[title] = "\n".join(body)
            title, body = match.group(2), []
        else:
            body.append(line)
    if title is not None:
        out[title] = "\n".join(body)
    return out


def coded_sections(path: Path, pattern: str) -> dict[str, str]:
    """Sections whose whole heading is one `code span` matching `pattern`, keyed by its content."""
    full = re.compile(rf"`({pattern})`")
    return {m.group(1): body for title, body in sections(path).items() if (m := full.fullmatch(title))}


def mentions(text: str, name: str) -> bool:
    """`name` occurs as a whole token (so --admin is not satisfied by --admin-user)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


# --- CLI ------------------------------------------------------------------------------


def walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, f"{path} {name}")


COMMANDS = dict(walk(main, "siaga112"))


@pytest.fixture(scope="module")
def cli_sections() -> dict[str, str]:
    return coded_sections(DOCS / "cli.md", r"siaga112(?: [a-z][a-z0-9-]*)*")


def test_the_command_tree_is_walked():
    # Guards the walk itself: if it found nothing, every test below would pass vacuously.
    assert {"siaga112", "siaga112 init", "siaga112 user add", "siaga112 audit verify"} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_is_documented(cli_sections, path):
    assert path in cli_sections, f"docs/cli.md has no section headed `{path}`"


@pytest.mark.parametrize(
    ("path", "name"),
    sorted(
        (path, name)
        for path, command in COMMANDS.items()
        for param in command.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    ),
)
def test_option_is_documented_in_its_command_section(cli_sections, path, name):
    assert path in cli_sections, f"docs/cli.md has no section headed `{path}`"
    assert mentions(cli_sections[path], name), f"docs/cli.md: section `{path}` does not mention {name}"


@pytest.mark.parametrize(
    ("path", "name"),
    sorted(
        (path, param.human_readable_name)
        for path, command in COMMANDS.items()
        for param in command.params
        if isinstance(param, click.Argument)
    ),
)
def test_argument_is_documented_in_its_command_section(cli_sections, path, name):
    assert path in cli_sections, f"docs/cli.md has no section headed `{path}`"
    assert mentions(cli_sections[path], name), f"docs/cli.md: section `{path}` does not mention {name}"


def test_no_documented_command_is_gone(cli_sections):
    stale = sorted(set(cli_sections) - set(COMMANDS))
    assert not stale, f"docs/cli.md documents commands that do not exist: {stale}"


# --- data model -----------------------------------------------------------------------

TABLES = {model._meta.table_name: model for model in ALL_MODELS}


@pytest.fixture(scope="module")
def table_sections() -> dict[str, str]:
    return coded_sections(DOCS / "data-model.md", r"[a-z_][a-z0-9_]*")


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_is_documented(table_sections, table):
    assert table in table_sections, f"docs/data-model.md has no section headed `{table}`"


@pytest.mark.parametrize(
    ("table", "column"),
    sorted((name, field.column_name) for name, model in TABLES.items() for field in model._meta.sorted_fields),
)
def test_column_is_documented_in_its_table_section(table_sections, table, column):
    assert table in table_sections, f"docs/data-model.md has no section headed `{table}`"
    assert f"`{column}`" in table_sections[table], f"docs/data-model.md: `{table}` does not list `{column}`"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_says_whether_it_is_replicated(table_sections, table):
    assert table in table_sections, f"docs/data-model.md has no section headed `{table}`"
    first = next((line.strip() for line in table_sections[table].splitlines() if line.strip()), "")
    expected = "Replicated" if TABLES[table] in REPLICATED_MODELS else "Node-local"
    assert re.match(rf"\*\*{expected}\b", first), f"docs/data-model.md: `{table}` should begin with **{expected}"


def test_no_documented_table_is_gone(table_sections):
    stale = sorted(set(table_sections) - set(TABLES))
    assert not stale, f"docs/data-model.md documents tables that do not exist: {stale}"


# --- routing profiles -----------------------------------------------------------------

BENGKALIS = load_profile("bengkalis")
PROFILES = {name: load_profile(name) for name in builtin_names()}


def table_rows(path: Path) -> list[list[str]]:
    """Every Markdown table row of a file, as its stripped cells."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            rows.append([cell.strip() for cell in line[1:-1].split("|")])
    return rows


def duration(seconds: int) -> str:
    """How docs/profiles.md writes a time standard: 30 s, 2 min, 1 min 30 s."""
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


@pytest.fixture(scope="module")
def profile_rows() -> list[list[str]]:
    return table_rows(DOCS / "profiles.md")


@pytest.mark.parametrize("spec", BENGKALIS.incident_types, ids=lambda t: f"type-{t.code}")
def test_bengkalis_incident_type_is_documented(profile_rows, spec):
    rows = [row for row in profile_rows if row and row[0] == str(spec.code)]
    assert rows, f"docs/profiles.md has no table row for incident type {spec.code}"
    text = " | ".join(rows[0])
    assert spec.name_id in text, f"docs/profiles.md: row {spec.code} lacks its name {spec.name_id!r}"
    missing = [code for code in spec.agencies if not mentions(text, code)]
    assert not missing, f"docs/profiles.md: row {spec.code} lacks agencies {missing}"


def test_time_standards_table_matches_every_builtin_profile(profile_rows):
    header = next((row for row in profile_rows if f"`{BENGKALIS.id}`" in row), None)
    assert header is not None, "docs/profiles.md has no standards table with a `bengkalis` column"
    columns = {name: header.index(f"`{name}`") for name in PROFILES if f"`{name}`" in header}
    assert set(columns) == set(PROFILES), f"standards table columns {sorted(columns)} != {sorted(PROFILES)}"
    by_key = {row[0].strip("`"): row for row in profile_rows if row and re.fullmatch(r"`[a-z_]+`", row[0])}
    for key in SOP_STEP_KEYS:
        if not any(p.sop_step(key) for p in PROFILES.values()):
            continue
        assert key in by_key, f"docs/profiles.md: standards table has no row `{key}`"
        row = by_key[key]
        for name, index in columns.items():
            step = PROFILES[name].sop_step(key)
            want = duration(step.standard_seconds) if step else "—"
            got = row[index].strip("*_ ")
            assert got == want, f"docs/profiles.md: `{key}` for {name} says {got!r}, the profile {want!r}"


def test_profile_examples_in_the_docs_load(tmp_path):
    """Every complete TOML example (one with a [profile] table) in docs/profiles.md is a valid profile."""
    blocks = re.findall(r"^```toml\n(.*?)^```", (DOCS / "profiles.md").read_text(encoding="utf-8"), re.M | re.S)
    examples = [block for block in blocks if "[profile]" in block]
    assert examples, "docs/profiles.md has no TOML example"
    for i, block in enumerate(examples):
        path = tmp_path / f"example-{i}.toml"
        path.write_text(block, encoding="utf-8")
        load_profile(path)  # raises ProfileError naming the field if the example went stale
