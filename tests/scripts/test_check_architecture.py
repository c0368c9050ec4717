"""The architecture check finds each kind of finding in small made-up trees, and only those."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scripts import check_architecture
from scripts.check_architecture import Finding

REPOSITORY = Path(__file__).resolve().parents[2]


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (path: source) under `root`, with the packages' __init__ files."""
    for name, source in files.items():
        path = root / name
        for folder in reversed(path.relative_to(root).parents):
            if str(folder) != ".":
                (root / folder).mkdir(exist_ok=True)
                (root / folder / "__init__.py").touch()
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return root


def kinds(findings: list[Finding]) -> list[tuple[str, str, int]]:
    """Each finding's kind, file and line."""
    return [(f.kind, f.path, f.line) for f in findings]


def test_package_cycle_is_found_with_where_each_side_imports(tmp_path: Path) -> None:
    """edge.sessions <-> edge.analytics, one side a lazy import in a function."""
    tree(
        tmp_path,
        {
            "edge/analytics.py": "from edge.sessions import records\n",
            "edge/sessions/records.py": "X = 1\n",
            "edge/sessions/service.py": "def end():\n    from edge import analytics\n",
        },
    )
    [finding] = check_architecture.check(tmp_path)
    assert finding.kind == "cycle"
    assert finding.message.startswith("edge.analytics -> edge.sessions -> edge.analytics")
    assert "edge/analytics.py:1 imports edge.sessions.records" in finding.message
    assert "edge/sessions/service.py:2 imports edge.analytics" in finding.message


def test_module_cycle_inside_a_package_and_relative_imports(tmp_path: Path) -> None:
    """Two modules of edge.http importing each other, one by a relative import."""
    tree(
        tmp_path,
        {
            "edge/http/auth.py": "from edge.http.access import Role\n",
            "edge/http/access.py": "from .auth import guard\n",
        },
    )
    assert [f.message.split(" (")[0] for f in check_architecture.check(tmp_path)] == [
        "edge.http.access -> edge.http.auth -> edge.http.access"
    ]


def test_cycle_between_the_top_packages(tmp_path: Path) -> None:
    """A cycle between the top packages (cloud -> edge -> cloud) is one too."""
    tree(tmp_path, {"edge/a.py": "import cloud.b\n", "cloud/b.py": "import edge.a\n"})
    assert [f.kind for f in check_architecture.check(tmp_path)] == ["cycle"]


def test_one_way_imports_and_a_package_reexporting_its_modules_are_no_cycle(
    tmp_path: Path,
) -> None:
    """A layered tree: __init__ re-exports, children import each other one way."""
    tree(
        tmp_path,
        {
            "edge/store/__init__.py": "from edge.store.database import Store\n",
            "edge/store/database.py": "from edge.store.migrations import migrate\n",
            "edge/store/migrations.py": "import sqlite3\n",
            "edge/sessions/records.py": "from edge.store import Store\n",
            "edge/analytics.py": "from edge.sessions import records\nfrom shared import clock\n",
            "shared/clock.py": "import datetime\n",
        },
    )
    assert check_architecture.check(tmp_path) == []


def test_shared_importing_a_side(tmp_path: Path) -> None:
    """Shared may import itself and the world, not edge or cloud."""
    tree(
        tmp_path,
        {
            "shared/schemas.py": "import json\nfrom shared import clock\nfrom edge.errors import E",
            "shared/clock.py": "def f():\n    import cloud.settings\n",
            "edge/errors.py": "class E(Exception): ...\n",
            "cloud/settings.py": "X = 1\n",
        },
    )
    assert kinds(check_architecture.check(tmp_path)) == [
        ("shared-imports", "shared/clock.py", 2),
        ("shared-imports", "shared/schemas.py", 3),
    ]


ROW_READS = """\
async def reads(db, conn, session):
    row = db.execute("SELECT a, b FROM t").fetchone()
    x = row[0]                                          # 3: by name `row`
    y = db.execute("SELECT count(*) FROM t").fetchone()[0]  # 4
    owner = conn.execute("SELECT s FROM t").fetchone()
    z = owner[1]                                        # 6: bound from fetchone
    rows = db.execute("SELECT a FROM t").fetchall()
    w = rows[0][1]                                      # 8
    for a, b in db.execute("SELECT a, b FROM t"):      # 9
        pass
    ids = {r[0] for r in db.execute("SELECT id FROM t")}  # 11
    first, second = conn.execute("SELECT 1, 2").fetchone()  # 12
    for item in rows:
        print(item[2])                                  # 14: a loop over rows
    count, soonest = (await session.execute(q)).one()   # 15: SQLAlchemy
    last_row = rows[-1]
    v = last_row[-1]                                    # 17
"""

ROW_READS_FINE = """\
async def fine(db, text, session, pairs):
    row = db.execute("SELECT a FROM t").fetchone()
    a = row["a"]
    rows = db.execute("SELECT a FROM t").fetchall()
    b = rows[0]["a"]
    first_row = rows[0]
    c = text.split(".")[0]
    d = sorted(pairs)[0][1]
    n = (await session.execute(q)).scalar_one()
    m = (await session.execute(q)).scalars().all()[0]
    for key, value in {"a": 1}.items():
        pass
    for x, y in pairs:
        pass
    e = row[0]  # row-by-position: PRAGMA answers have no stable column name
    # row-by-position: the same, on the line above
    f = row[1]
    parts = [line[1] for line in text]
"""


def test_positional_row_reads_are_found(tmp_path: Path) -> None:
    """Each way of reading a result by position, in product code of any package."""
    tree(tmp_path, {"cloud/reads.py": ROW_READS})
    found = check_architecture.check(tmp_path)
    assert {f.kind for f in found} == {"row-by-position"}
    assert [f.line for f in found] == [3, 4, 6, 8, 9, 11, 12, 14, 15, 17]


def test_named_reads_other_subscripts_and_opt_outs_are_fine(tmp_path: Path) -> None:
    """Column names, non-row subscripts, first rows, scalars and explained exceptions pass."""
    tree(tmp_path, {"edge/reads.py": ROW_READS_FINE})
    assert check_architecture.check(tmp_path) == []


def test_an_opt_out_needs_its_reason(tmp_path: Path) -> None:
    """A bare marker does not silence the finding."""
    tree(tmp_path, {"edge/reads.py": "def f(row):\n    return row[0]  # row-by-position:\n"})
    assert kinds(check_architecture.check(tmp_path)) == [("row-by-position", "edge/reads.py", 2)]


def test_duplicate_class_names_across_packages(tmp_path: Path) -> None:
    """Module-level classes only; nested ones (Config, Meta) may repeat."""
    tree(
        tmp_path,
        {
            "edge/errors.py": "class Forbidden(Exception):\n    class Meta: ...\n",
            "cloud/errors.py": "class Forbidden(Exception): ...\n",
            "shared/a.py": "class Model:\n    class Meta: ...\n",
        },
    )
    [finding] = check_architecture.check(tmp_path)
    assert finding.kind == "duplicate-class"
    assert finding.path == "edge/errors.py"
    assert "class Forbidden also in cloud/errors.py:1" in finding.message


def test_main_lists_findings_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 1 with one line per finding; 0 and `ok` on a clean tree."""
    tree(tmp_path, {"edge/a.py": "def f(row):\n    return row[0]\n"})
    assert check_architecture.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out == "edge/a.py:2: row-by-position: `row[0]` reads a column by position\n"
    (tmp_path / "edge" / "a.py").write_text("def f(row):\n    return row['a']\n")
    assert check_architecture.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == "architecture: ok\n"


def test_the_repository_keeps_the_rules() -> None:
    """The real tree has no finding, run the way scripts/test.sh runs it."""
    done = subprocess.run(
        [sys.executable, "scripts/check_architecture.py"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "architecture: ok\n"), done.stdout
