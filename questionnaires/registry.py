"""The questionnaires on offer: every version found in the shipped and uploaded folders.

A registry reads ``questionnaires/definitions/`` (shipped with the platform) and, when given,
the data directory's ``questionnaires/`` folder (uploaded by an admin). A file that cannot be
loaded does not hide the others: it is listed in :attr:`QuestionnaireRegistry.problems` and
reported as a :class:`QuestionnaireWarning`.
"""

from __future__ import annotations

import builtins
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from questionnaires.errors import QuestionnaireError, QuestionnaireWarning
from questionnaires.loader import load_questionnaire
from questionnaires.model import Questionnaire

__all__ = [
    "DEFINITIONS_DIR",
    "QuestionnaireRegistry",
    "RegistryProblem",
    "load_registry",
    "version_key",
]

#: The folder of shipped questionnaire definitions.
DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
_SUFFIXES = (".yaml", ".yml", ".xlsx")


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a version string: its dot-separated numbers (``"2026.10"`` > ``"2026.9"``)."""
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class RegistryProblem:
    """A questionnaire file that could not be used, and why."""

    path: Path
    message: str

    def __str__(self) -> str:
        return self.message


class QuestionnaireRegistry:
    """Every questionnaire version found in some folders, indexed by ``(id, version)``.

    Parameters
    ----------
    folders
        Folders to read, in order; a folder that does not exist is skipped. Files ending in
        ``.yaml``, ``.yml`` or ``.xlsx`` are loaded (not those in subfolders; names starting
        with ``.`` or ``~$`` are ignored).

    Notes
    -----
    When two files define the same ``(id, version)`` the first one read wins (shipped
    definitions come before uploads) and the other is reported as a problem.
    """

    def __init__(self, folders: Iterable[str | os.PathLike[str]]) -> None:
        self.folders: tuple[Path, ...] = tuple(Path(f) for f in folders)
        self._items: dict[tuple[str, str], Questionnaire] = {}
        self._paths: dict[tuple[str, str], Path] = {}
        self._problems: list[RegistryProblem] = []
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in _SUFFIXES and _visible(path) and path.is_file():
                    self._add(path)
        for problem in self._problems:
            warnings.warn(problem.message, QuestionnaireWarning, stacklevel=2)

    def _add(self, path: Path) -> None:
        try:
            questionnaire = load_questionnaire(path)
        except QuestionnaireError as exc:
            self._problems.append(RegistryProblem(path, f"{path} was not loaded: {exc}"))
            return
        key = questionnaire.key
        if key in self._items:
            self._problems.append(
                RegistryProblem(
                    path,
                    f"{path} was not loaded: questionnaire {key[0]!r} version {key[1]!r} is "
                    f"already defined by {self._paths[key]}; give one of them a new version",
                )
            )
            return
        self._items[key] = questionnaire
        self._paths[key] = path

    @property
    def problems(self) -> tuple[RegistryProblem, ...]:
        """Files that could not be loaded (broken, or a repeated id and version)."""
        return tuple(self._problems)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Questionnaire]:
        return iter(self.list())

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def list(self) -> builtins.list[Questionnaire]:
        """Every questionnaire version, sorted by id and then version (oldest first)."""
        return sorted(self._items.values(), key=lambda q: (q.id, version_key(q.version)))

    def ids(self) -> builtins.list[str]:
        """The questionnaire ids, sorted."""
        return sorted({q.id for q in self._items.values()})

    def versions(self, id: str) -> builtins.list[str]:
        """The versions of questionnaire ``id``, oldest first (empty if there is none)."""
        return [q.version for q in self.list() if q.id == id]

    def get(self, id: str, version: str) -> Questionnaire:
        """The questionnaire ``id`` at ``version``.

        Raises
        ------
        KeyError
            When that version does not exist (the message lists the versions that do).
        """
        try:
            return self._items[(id, version)]
        except KeyError:
            known = self.versions(id)
            if known:
                raise KeyError(
                    f"questionnaire {id!r} has no version {version!r}; its versions are "
                    f"{', '.join(known)}"
                ) from None
            raise KeyError(self._unknown(id)) from None

    def path(self, id: str, version: str) -> Path:
        """The file questionnaire ``id`` at ``version`` was read from (KeyError if none)."""
        self.get(id, version)
        return self._paths[(id, version)]

    def latest(self, id: str) -> Questionnaire:
        """The newest open version of ``id``: the one offered to respondents.

        Raises
        ------
        KeyError
            When ``id`` is unknown or all its versions are closed.
        """
        candidates = [q for q in self.list() if q.id == id]
        if not candidates:
            raise KeyError(self._unknown(id))
        open_ones = [q for q in candidates if q.status == "open"]
        if not open_ones:
            raise KeyError(
                f"every version of questionnaire {id!r} is closed "
                f"({', '.join(q.version for q in candidates)}); open one with status: open"
            )
        return open_ones[-1]

    def _unknown(self, id: str) -> str:
        ids = self.ids()
        return f"no questionnaire {id!r}; the questionnaires are {', '.join(ids) or '(none)'}"


def load_registry(
    data_dir: str | os.PathLike[str] | None = None,
) -> QuestionnaireRegistry:
    """The registry of the shipped definitions plus ``<data_dir>/questionnaires/`` if given.

    Parameters
    ----------
    data_dir
        The platform's data directory; its ``questionnaires`` subfolder holds uploaded
        questionnaires. None: only the shipped definitions.
    """
    folders: list[Path] = [DEFINITIONS_DIR]
    if data_dir is not None:
        folders.append(Path(data_dir) / "questionnaires")
    return QuestionnaireRegistry(folders)


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "~$"))
