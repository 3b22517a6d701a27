"""A real, small file system for the fault tests: a size-limited tmpfs mounted on a folder.

Mounting needs root (and, in a container, the ``CAP_SYS_ADMIN`` capability). Where it is not
permitted, :func:`small_disk` says so and the tests fall back to injecting ``OSError(ENOSPC)``
/ ``OSError(EROFS)`` at the store's write; set ``SURVEY_TEST_REQUIRE_TMPFS=1`` (``.ci/run``
does) to make that fallback a failure instead.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

REQUIRE_ENV = "SURVEY_TEST_REQUIRE_TMPFS"


class MountRefused(RuntimeError):
    """tmpfs could not be mounted here."""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


def mount_tmpfs(folder: Path, *, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
    if done.returncode != 0:
        raise MountRefused((done.stderr or done.stdout).strip() or f"exit {done.returncode}")


def remount(folder: Path, mode: str) -> None:
    """``mode``: ``ro`` or ``rw``."""
    done = _run("mount", "-o", f"remount,{mode}", str(folder))
    assert done.returncode == 0, done.stderr


def unmount(folder: Path) -> None:
    _run("umount", "-l", str(folder))


@contextlib.contextmanager
def small_disk(folder: Path, *, size: str = "2m") -> Iterator[bool]:
    """Mount a ``size`` tmpfs on ``folder`` for the duration; yields ``True`` if it is a real
    mount, ``False`` if mounting is not permitted (and not required)."""
    try:
        mount_tmpfs(folder, size=size)
    except (MountRefused, FileNotFoundError) as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            raise AssertionError(
                f"{REQUIRE_ENV}=1 but tmpfs cannot be mounted here ({exc}); run as root with "
                "CAP_SYS_ADMIN"
            ) from exc
        folder.mkdir(parents=True, exist_ok=True)
        yield False
        return
    try:
        yield True
    finally:
        unmount(folder)


def fill(folder: Path, *, leave: int) -> Path:
    """Write a ballast file that leaves about ``leave`` bytes free on ``folder``'s file
    system; returns it (delete it to free the space again)."""
    ballast = folder / "ballast.bin"
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(ballast, "wb") as f:
        f.write(b"\0" * max(free - leave, 0))
        f.flush()
        os.fsync(f.fileno())
    return ballast
