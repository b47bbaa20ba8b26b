"""Atomic file writing: temporary file in the destination folder, fsync, rename into place.

Every CalSciPy writer goes through :func:`atomic_write` (file objects) or :func:`atomic_path`
(libraries that want a path, e.g. a Zarr directory store), so a crash, a kill or a full disk
never leaves a half-written file under the final name, and an existing file is only replaced
when the caller asked for it. :func:`atomic_paths` writes a *set* of files (the parts of a split
stack): every part is written and fsynced under a temporary name before the first one is renamed
into place.

Temporary names are ``.<target name>.<host>-<pid>.<random>.partial``. A writer killed outright
(SIGKILL, power loss) cannot remove its temporary file; the next write of the same target removes
leftovers whose writer is gone (same host and pid namespace, process no longer alive). An
``OSError`` raised while the temporary data are written (a full disk, a quota) names the
target, not the hidden file.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from CalSciPy._checks import as_path  # re-exported: its home is _checks
from CalSciPy.errors import InvalidArgumentError

__all__ = [
    "as_path",
    "atomic_write",
    "atomic_path",
    "atomic_paths",
    "fsync_directory",
    "remove_stale_partials",
    "reserve_space",
]

#: a leftover temporary file of an unknown (older) naming is removed once it is this old (s)
STALE_AGE_S = 3600.0
#: ``<host>-<pid>.<random>.partial`` or ``<host>-<pid>.old`` after ``.<target name>.``
_OWNED = re.compile(r"(?P<host>[0-9a-f]{6})-(?P<pid>\d+)\.(?:[A-Za-z0-9_]+\.partial|old)")
_UNOWNED = re.compile(r"[A-Za-z0-9_]{8}\.partial|\d+\.old")


def _machine_token(hostname: str, pid_namespace: str) -> str:
    """Who may judge a leftover's pid: one host *and* one pid namespace.

    Containers can share a hostname and a folder while numbering processes separately; a
    pid is only meaningful inside its namespace.
    """
    ident = f"{hostname}|{pid_namespace}" if pid_namespace else hostname
    return hashlib.sha1(ident.encode("utf-8", "replace")).hexdigest()[:6]


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]" (Linux)
    except (OSError, AttributeError):
        return ""


_HOST = _machine_token(socket.gethostname(), _pid_namespace())


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{_HOST}-{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists (owned by someone else), or cannot tell
        return True
    except (OverflowError, ValueError):  # not a pid this system can have: not ours to judge
        return True
    return True


def remove_stale_partials(target: Path) -> list[Path]:
    """Remove temporary files/folders left beside ``target`` by killed writers; return them.

    Only leftovers of this host and pid namespace whose writer process is gone are removed (a
    writer running in another process, on another host or in another container sharing the
    folder keeps its temporary file), and ones of an unknown naming once older than
    :data:`STALE_AGE_S`.
    """
    removed: list[Path] = []
    if os.name == "nt" or not target.parent.is_dir():
        return removed
    pattern = f".{glob.escape(target.name)}.*"
    for leftover in target.parent.glob(pattern):
        tail = leftover.name[len(target.name) + 2:]
        ours = _OWNED.fullmatch(tail)
        if ours:
            if ours["host"] != _HOST or _alive(int(ours["pid"])):
                continue
        elif _UNOWNED.fullmatch(tail):  # older naming: no owner recorded, judge by age
            with contextlib.suppress(OSError):
                if time.time() - leftover.lstat().st_mtime < STALE_AGE_S:
                    continue
        else:  # another target's temporary file (e.g. of "name.x" for "name")
            continue
        with contextlib.suppress(OSError):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
            removed.append(leftover)
    return removed


def _naming_target(err: OSError, target: Path, temporary: Path) -> OSError:
    """``err`` re-raised with ``target`` in its message when it named the temporary file."""
    filename = getattr(err, "filename", None)
    about_temp = filename is not None and str(temporary) in str(filename)
    space = err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EFBIG)
    # an error that already names a real file (e.g. an inner writer's target) is left alone
    if err.errno is None or not (about_temp or (filename is None and space)):
        return err
    reason = err.strerror or str(err)
    return OSError(err.errno, f"{reason} (while writing)", str(target))


def _new_temporary(target: Path, *, directory: bool) -> Any:
    """``mkdtemp`` (``directory``) or ``mkstemp`` beside ``target``; a refusal names ``target``.

    A folder without write permission (or one that takes no new files) otherwise raises
    naming the hidden ``.<name>.<host>-<pid>.<random>.partial`` the user never asked for.
    """
    make = tempfile.mkdtemp if directory else tempfile.mkstemp
    try:
        return make(prefix=_temp_prefix(target), suffix=".partial", dir=target.parent)
    except OSError as err:
        reason = err.strerror or str(err)
        raise type(err)(err.errno, f"{reason} (cannot create a file in {target.parent})",
                        str(target)) from err


def reserve_space(fd: int, nbytes: int, target: Path) -> None:
    """Allocate ``nbytes`` for the open file ``fd`` now, so a full disk fails here, not later.

    Memory-mapped writes into a sparse file die of SIGBUS when the disk fills; with the blocks
    reserved up front a full disk is an ``OSError`` (``ENOSPC``) naming ``target``. Where the
    filesystem cannot reserve (no ``posix_fallocate``, or it answers EOPNOTSUPP/EINVAL) the
    file is extended sparsely instead.
    """
    if nbytes <= 0:
        return
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            fallocate(fd, 0, nbytes)
            return
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", -1)):
                raise OSError(err.errno, f"{err.strerror or err} (reserving {nbytes} bytes)",
                              str(target)) from err
    os.ftruncate(fd, nbytes)


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

    On any exception the temporary file is removed and ``target`` is left untouched; an
    ``OSError`` about the temporary file (e.g. ``ENOSPC``) is re-raised naming ``target``.
    Leftovers of killed earlier writes of ``target`` are removed first.

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
    remove_stale_partials(target)
    fd, tmp_name = _new_temporary(target, directory=False)
    tmp = Path(tmp_name)
    try:
        if os.name != "nt":
            os.fchmod(fd, _final_mode(target))
        kwargs: dict[str, Any] = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_directory(target.parent)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        named = _naming_target(err, target, tmp)
        if named is err:
            raise
        raise named from err
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fsync_tree(staged: Path) -> None:
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


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike, *, overwrite: bool = False, directory: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` for a writer that needs a path, then rename.

    For ``directory=True`` (e.g. a Zarr store) the temporary path is a fresh folder; an existing
    ``target`` folder is replaced only with ``overwrite=True`` (moved aside first, deleted after
    the new one is in place). An existing file is replaced by one atomic rename, so its name
    always holds either the old or the new content. Files written into the temporary path are
    fsynced before renaming. An ``OSError`` while writing names ``target``.
    """
    target = as_path(target, "target")
    _check_target(target, overwrite)
    remove_stale_partials(target)
    tmp = Path(_new_temporary(target, directory=True))
    staged = tmp / target.name if not directory else tmp
    try:
        try:
            yield staged
            _fsync_tree(staged)
        except OSError as err:
            named = _naming_target(err, target, tmp)
            if named is err:
                raise
            raise named from err
        if os.name != "nt" and (directory or staged.is_file()):
            # mkdtemp made the folder 0700; a replaced file keeps its permissions
            os.chmod(staged, _final_mode(target, directory=directory))
        old = None
        if target.is_dir() and not target.is_symlink():
            # a folder cannot be replaced in one rename: move it aside first; a file is
            # replaced atomically by os.replace, so the final name never disappears
            old = target.with_name(f"{_temp_prefix(target)}old")
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


@contextlib.contextmanager
def atomic_paths(
    targets: list[Path], *, overwrite: bool = False
) -> Iterator[list[Path]]:
    """Yield temporary paths for a *set* of files; rename them all into place on success.

    Every file of the set is written and fsynced under its temporary name before the first
    rename, so an interruption while writing (the long part) leaves every existing target as
    it was. The renames that follow take microseconds; a kill exactly between two of them
    leaves a mixed set, which the set's readers detect (see
    :func:`CalSciPy._io.tiff.check_part_sets`). On any error all temporary files are removed.

    Parameters
    ----------
    targets
        Final file names (files, not folders), distinct.
    overwrite
        Replace existing targets; when False any existing one raises ``FileExistsError``
        before anything is written.
    """
    targets = [as_path(t, "target") for t in targets]
    if len(set(targets)) != len(targets):
        raise InvalidArgumentError(f"atomic_paths: the targets are not distinct: {targets}")
    for target in targets:
        _check_target(target, overwrite)
        if target.is_dir():
            raise IsADirectoryError(f"{target} is a folder; it is never replaced by a file")
    for target in targets:
        remove_stale_partials(target)
    tmps: list[Path] = []
    try:
        for target in targets:
            tmps.append(Path(_new_temporary(target, directory=True)))
        staged = [tmp / target.name for tmp, target in zip(tmps, targets)]
        try:
            yield staged
            for file in staged:
                _fsync_tree(file)
        except OSError as err:
            filename = str(getattr(err, "filename", None) or "")
            culprit = next((t for t, tmp in zip(targets, tmps) if str(tmp) in filename),
                           targets[0])
            named = _naming_target(err, culprit, tmps[targets.index(culprit)])
            if named is err:
                raise
            raise named from err
        for target, file in zip(targets, staged):
            if os.name != "nt" and file.is_file():
                os.chmod(file, _final_mode(target))
        for target, file in zip(targets, staged):
            os.replace(file, target)
        for folder in {target.parent for target in targets}:
            fsync_directory(folder)
    finally:
        for tmp in tmps:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
