"""The documentation's queries and the README's Python example, so that tests run them exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
FORMATS = REPO / "docs" / "formats.md"


def readme_sql() -> list[str]:
    """The statements of the ```sql block of docs/formats.md (the DuckDB queries over the results tree), in
    order (comments kept, `;` dropped)."""
    block = re.search(r"```sql\n(.*?)```", FORMATS.read_text(encoding="utf-8"), re.S).group(1)
    return [statement.strip() for statement in block.split(";") if statement.strip()]


def readme_python() -> str:
    """The README's ```python block: the public API's example on the quickstart's results."""
    return re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
