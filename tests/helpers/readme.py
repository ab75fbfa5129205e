"""The README's documented queries, so that tests run them exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_sql() -> list[str]:
    """The statements of the README's ```sql block, in order (comments kept, `;` dropped)."""
    block = re.search(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    return [statement.strip() for statement in block.split(";") if statement.strip()]
