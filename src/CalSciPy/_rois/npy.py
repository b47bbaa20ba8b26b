"""``.npy`` reading for files other programs wrote: plain arrays never unpickle, and pickled
(object) arrays are unpickled by a restricted unpickler that only rebuilds numpy arrays,
scalars, dtypes and plain Python containers (a ``stat.npy`` or ``ops.npy`` that asks for any
other class is refused instead of running its code)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from CalSciPy.errors import DataFormatError

__all__ = ["load_npy"]

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    # same module under its numpy 1.x name; mypy sees both imports as one name redefined
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

import pathlib

#: (module, name) a suite2p pickle may name -> the object it is rebuilt with
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("collections", "OrderedDict"): dict,
    # suite2p >= 1.0 may store paths; Pure* paths build on any OS and run no code
    ("pathlib", "PosixPath"): pathlib.PurePosixPath,
    ("pathlib", "WindowsPath"): pathlib.PureWindowsPath,
    ("pathlib", "PurePosixPath"): pathlib.PurePosixPath,
    ("pathlib", "PureWindowsPath"): pathlib.PureWindowsPath,
    ("pathlib._local", "PosixPath"): pathlib.PurePosixPath,
    ("pathlib._local", "WindowsPath"): pathlib.PureWindowsPath,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: Path) -> None:
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataFormatError(
                f"{self._source}: refusing to unpickle {module}.{name}; suite2p's .npy files "
                "hold only numpy arrays, numbers, strings, lists and dicts"
            ) from None


def load_npy(path: Path, *, pickled: bool, what: str) -> Any:
    """Read ``path`` (``.npy``). ``pickled``: the file is expected to be an object array
    (suite2p's ``stat.npy``/``ops.npy``); otherwise object arrays are refused. ``what``
    describes the expected content for error messages."""
    try:
        with open(path, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            except ValueError as err:
                raise DataFormatError(f"{path} is not a .npy file ({what}): {err}") from None
            if dtype.hasobject:
                if not pickled:
                    raise DataFormatError(
                        f"{path} holds Python objects, expected {what} (a plain numeric array)"
                    )
                try:
                    value = _Unpickler(fh, path).load()
                except DataFormatError:
                    raise
                except Exception as err:  # any unpickling failure is a bad file
                    raise DataFormatError(f"{path}: cannot read {what}: {err}") from None
                return value
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            remaining = os.fstat(fh.fileno()).st_size - fh.tell()
            if expected > remaining:
                # a header promising more data than the file holds would make numpy allocate
                # the promised size before noticing
                raise DataFormatError(
                    f"{path}: the header promises {shape} {dtype} ({expected} bytes) but only "
                    f"{remaining} bytes follow; the file is truncated or not {what}"
                )
            fh.seek(0)
            try:
                return np.lib.format.read_array(fh, allow_pickle=False)
            except ValueError as err:
                raise DataFormatError(f"{path}: cannot read {what}: {err}") from None
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DataFormatError(f"{path}: cannot read {what}: {err}") from None
