"""Persisted index directories: load if present, else build once under a lock and publish atomically.

Several gunicorn workers (or an eval run beside a server) may start at once over the same index
directory. One builds under a file lock while the others wait and then load; a directory appears
under its final name only by an atomic rename of a fully written temporary directory, so a crash
mid-write never leaves half an index behind. A corrupt directory is rebuilt.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from service.errors import CatalogError

log = logging.getLogger(__name__)

T = TypeVar("T")


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (created if missing)."""
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_or_build_dir(
    index_dir: str | Path,
    key: str,
    load: Callable[[Path], T],
    build: Callable[[], T],
    save: Callable[[T, Path], None],
) -> T:
    """``load(index_dir / key)``, or ``build()`` then ``save(result, staging)`` and rename staging to the key.

    ``load`` raises :class:`FileNotFoundError` for a missing index and :class:`CatalogError` for an
    unusable one (rebuilt).

    :raises OSError: if ``index_dir`` cannot be created or written.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    final = index_dir / key

    with contextlib.suppress(FileNotFoundError, CatalogError):
        return load(final)

    with exclusive(index_dir / f".{key}.lock"):
        if final.exists():
            try:
                return load(final)
            except (FileNotFoundError, CatalogError) as exc:
                log.warning("rebuilding index %s: %s", final, exc)
                discard(final, index_dir)
        built = build()
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.tmp-", dir=index_dir))
        try:
            save(built, staging)
            staging.chmod(0o755)  # mkdtemp makes it private; workers of another user may read it
            os.rename(staging, final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not final.is_dir():  # a rename that lost a race (lock-less file system) is fine
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return built


def discard(path: Path, parent: Path) -> None:
    """Move ``path`` out of the way atomically, then delete it."""
    trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=parent))
    os.rename(path, trash / path.name)
    shutil.rmtree(trash, ignore_errors=True)
