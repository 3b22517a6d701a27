"""The raw document: a questionnaire as read from YAML or XLSForm, before validation.

Both readers produce the same tree of :class:`RawMap` / :class:`RawList` / scalars, in which
every node remembers where it came from (a YAML line, or an XLSForm sheet, row and column), so
the validator can name the place of every problem whatever the file format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where a value was written: a YAML ``line``, or an XLSForm ``sheet``/``row``/``column``."""

    line: int | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    text: str | None = field(default=None, compare=False, repr=False)
    """The value as written, when the reader had to convert it (YAML ``no`` -> False)."""

    def __str__(self) -> str:
        parts: list[str] = []
        if self.sheet is not None:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)


NOWHERE = Location()


class RawMap(dict[Any, Any]):
    """A mapping that knows its own location and the location of each key's value."""

    def __init__(self, loc: Location = NOWHERE) -> None:
        super().__init__()
        self.loc = loc
        self.key_locs: dict[Any, Location] = {}
        self.key_texts: dict[Any, str] = {}

    def set(self, key: Any, value: Any, loc: Location) -> None:
        """Store ``value`` under ``key`` and remember where it was written."""
        self[key] = value
        self.key_locs[key] = loc

    def loc_of(self, key: Any) -> Location:
        """Where the value of ``key`` was written (the mapping's own place if unknown)."""
        return self.key_locs.get(key, self.loc)


class RawList(list[Any]):
    """A list that knows its own location and the location of each item."""

    def __init__(self, loc: Location = NOWHERE) -> None:
        super().__init__()
        self.loc = loc
        self.item_locs: list[Location] = []

    def add(self, value: Any, loc: Location) -> None:
        """Append ``value`` and remember where it was written."""
        self.append(value)
        self.item_locs.append(loc)

    def loc_of(self, index: int) -> Location:
        """Where item ``index`` was written (the list's own place if unknown)."""
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return self.loc


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, place, what part of the questionnaire) and what to do."""

    source: str
    location: Location
    context: str
    message: str

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.source, str(self.location), self.context) if p)
        return f"{where}: {self.message}"


class Problems:
    """Collects the problems and warnings found in one questionnaire file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, loc: Location, context: str, message: str) -> None:
        """Record a broken rule."""
        problem = Problem(self.source, loc, context, message)
        if problem not in self.errors:
            self.errors.append(problem)

    def warn(self, loc: Location, context: str, message: str) -> None:
        """Record something odd that does not stop the questionnaire from working."""
        problem = Problem(self.source, loc, context, message)
        if problem not in self.warnings:
            self.warnings.append(problem)
