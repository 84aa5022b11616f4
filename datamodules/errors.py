"""Checks on user data, in one place, so every bad file or column fails with a message that says what to fix."""

from collections.abc import Iterable, Mapping
from pathlib import Path


def require_file(path: str | Path, what: str = "data file") -> Path:
    """Return `path` as a Path, or raise FileNotFoundError naming it and what it should have been."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"{what} not found: {path} (check the path in the data config; relative paths "
            f"are read from the working directory {Path.cwd()})"
        )
    return path


def require_columns(row: Mapping, columns: Iterable[str], where: str) -> None:
    """Raise ValueError if `row` lacks any of `columns`, listing the columns the source does have."""
    missing = [c for c in columns if c not in row]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; the source has columns {sorted(row)}. "
            "Fix the `columns` mapping in the data config (canonical name -> source column)."
        )


def require_rows(rows: list, split: str, where: str) -> list:
    """Raise ValueError if a split came out empty, so training never starts on nothing."""
    if not rows:
        raise ValueError(
            f"{where}: the {split!r} split is empty; expected at least one row. Check the file, "
            "the split name and the limit_*_samples settings."
        )
    return rows
