"""Atomic file writing: temporary file in the destination folder, fsync, rename into place.

Every CalSciPy writer goes through :func:`atomic_write` (file objects) or :func:`atomic_path`
(libraries that want a path, e.g. a Zarr directory store), so a crash, a kill or a full disk
never leaves a half-written file under the final name, and an existing file is only replaced
when the caller asked for it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from CalSciPy._checks import as_path  # re-exported: its home is _checks

__all__ = ["as_path", "atomic_write", "atomic_path", "fsync_directory"]


def fsync_directory(folder: Path) -> None:
    """Flush a directory entry to disk so a rename survives power loss (no-op on Windows)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (e.g. network mounts) refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it (and put it straight back)
    os.umask(mask)
    return mask


def _final_mode(target: Path, *, directory: bool = False) -> int:
    """Permissions the finished file should get: the replaced file's, else the umask default.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) temporaries; renamed as they are, saved
    data would be unreadable for the rest of a lab's group, unlike a plain ``open(..., "w")``.
    """
    with contextlib.suppress(OSError):
        if target.exists() and target.is_dir() == directory:
            return target.stat().st_mode & 0o7777
    return (0o777 if directory else 0o666) & ~_umask()


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; pass overwrite=True to replace it"
        )
    if not target.parent.exists():
        raise FileNotFoundError(f"destination folder {target.parent} does not exist")


@contextlib.contextmanager
def atomic_write(
    target: str | os.PathLike, *, overwrite: bool = False, mode: str = "wb"
) -> Iterator[IO]:
    """Open a temporary file beside ``target``; on success fsync it and rename it to ``target``.

    On any exception the temporary file is removed and ``target`` is left untouched.

    Parameters
    ----------
    target
        Final file name.
    overwrite
        Replace an existing ``target``; when False an existing file raises ``FileExistsError``.
    mode
        ``"wb"`` or ``"w"`` (text, UTF-8).
    """
    target = as_path(target, "target")
    _check_target(target, overwrite)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
    tmp = Path(tmp_name)
    try:
        if os.name != "nt":
            os.fchmod(fd, _final_mode(target))
        kwargs = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_directory(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike, *, overwrite: bool = False, directory: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` for a writer that needs a path, then rename.

    For ``directory=True`` (e.g. a Zarr store) the temporary path is a fresh folder; an existing
    ``target`` folder is replaced only with ``overwrite=True`` (moved aside first, deleted after
    the new one is in place). An existing file is replaced by one atomic rename, so its name
    always holds either the old or the new content. Files written into the temporary path are
    fsynced before renaming.
    """
    target = as_path(target, "target")
    _check_target(target, overwrite)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    )
    staged = tmp / target.name if not directory else tmp
    try:
        yield staged
        for file in (staged.rglob("*") if staged.is_dir() else [staged]):
            if file.is_file():
                fd = os.open(file, os.O_RDONLY)  # fsync needs no write access
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            elif file.is_dir():  # entries of nested folders (e.g. Zarr chunk folders)
                fsync_directory(file)
        if staged.is_dir():
            fsync_directory(staged)
        if os.name != "nt" and (directory or staged.is_file()):
            # mkdtemp made the folder 0700; a replaced file keeps its permissions
            os.chmod(staged, _final_mode(target, directory=directory))
        old = None
        if target.is_dir() and not target.is_symlink():
            # a folder cannot be replaced in one rename: move it aside first; a file is
            # replaced atomically by os.replace, so the final name never disappears
            old = target.with_name(f".{target.name}.{os.getpid()}.old")
            os.replace(target, old)
        try:
            os.replace(staged, target)
        except BaseException:
            if old is not None:  # put the previous content back under its name
                os.replace(old, target)
            raise
        fsync_directory(target.parent)
        if old is not None:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
