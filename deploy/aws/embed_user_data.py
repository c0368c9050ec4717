"""Copy install-release.sh into the launch template's user data in studylens-cloud.yaml.

CloudFormation cannot include a file, so the template carries the script as a YAML literal
block right after the marker comment below; tests/deploy/test_template.py fails when the copy
differs from the file by a byte. Run after editing the script:

    .venv/bin/python deploy/aws/embed_user_data.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "studylens-cloud.yaml"
SCRIPT = HERE / "install-release.sh"
MARKER = "# deploy/aws/install-release.sh, verbatim:"


class EmbedError(Exception):
    """The template or the script cannot hold the embedded copy."""


def embed(template: str, script: str) -> str:
    """Return `template` with the literal block after the marker replaced by `script`."""
    if not script.endswith("\n") or script.endswith("\n\n"):
        raise EmbedError("the script must end with exactly one newline (YAML's `|` keeps one)")
    if script.startswith((" ", "\n")):
        raise EmbedError("the script's first line must not be indented or empty")
    if "\t" in script:
        raise EmbedError("the script must not contain tabs")
    lines = template.splitlines(keepends=True)
    marks = [i for i, line in enumerate(lines) if line.strip() == MARKER]
    if len(marks) != 1:
        raise EmbedError(f"expected the marker {MARKER!r} once in the template")
    start = marks[0] + 1
    if lines[start].strip() != "- |":
        raise EmbedError("the marker must be followed by a `- |` line")
    indent = " " * (len(lines[start]) - len(lines[start].lstrip()) + 2)
    end = start + 1
    while end < len(lines) and (lines[end].startswith(indent) or not lines[end].strip()):
        end += 1
    # Blank lines after the block belong to the template's layout, not to the script.
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    block = [indent + line if line.strip() else "\n" for line in script.splitlines(True)]
    return "".join([*lines[: start + 1], *block, *lines[end:]])


def main() -> int:
    """Rewrite the template in place; print whether it changed."""
    before = TEMPLATE.read_text()
    try:
        after = embed(before, SCRIPT.read_text())
    except EmbedError as exc:
        print(f"embed_user_data: {exc}", file=sys.stderr)
        return 1
    if after != before:
        TEMPLATE.write_text(after)
        print(f"embedded {SCRIPT.name} into {TEMPLATE.name}")
    else:
        print(f"{TEMPLATE.name} already holds {SCRIPT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
