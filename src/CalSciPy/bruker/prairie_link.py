"""Control a running PrairieView through its Windows COM server (``PrairieLink``).

Importing this module works everywhere; creating a :class:`PrairieLink` needs Windows and the
``pywin32`` package, and raises a clear ``OSError`` elsewhere.

Examples
--------
On the acquisition computer (Windows, PrairieView running):

>>> from CalSciPy.bruker.prairie_link import PrairieLink
>>> with PrairieLink() as pl:  # doctest: +SKIP
...     pl.send_script_commands("-SetState framePeriod 0.033")
...     period = pl.get_state("framePeriod")

Anywhere else the connection is refused with an ``OSError`` that says why:

>>> try:
...     PrairieLink()
... except OSError:
...     print("no PrairieView here")
no PrairieView here
"""
from __future__ import annotations

import sys
from typing import Any

from CalSciPy.bruker.configuration_values import COM_PROG_ID

__all__ = ["PrairieLink", "is_available"]


def is_available() -> bool:
    """True on Windows with ``pywin32`` installed (PrairieView itself may still be closed)."""
    if sys.platform != "win32":
        return False
    try:
        import win32com.client  # noqa: F401
    except ImportError:
        return False
    return True


class PrairieLink:
    """A connection to PrairieView's ``PrairieLink.Application`` COM server.

    Parameters
    ----------
    prog_id
        COM programmatic identifier of the server.
    connect
        Connect immediately.

    Raises
    ------
    OSError
        Not on Windows, ``pywin32`` missing, or PrairieView refuses the connection.
    """

    # declared here: on other platforms mypy sees the assignments in __init__ as unreachable
    _client: Any
    _connected: bool

    def __init__(self, prog_id: str = COM_PROG_ID, *, connect: bool = True) -> None:
        if sys.platform != "win32":
            raise OSError(
                f"PrairieLink talks to PrairieView's COM server and needs Windows; this is "
                f"{sys.platform}"
            )
        try:
            import win32com.client
        except ImportError as err:
            raise OSError("PrairieLink needs the pywin32 package (pip install pywin32)") from err
        self._client = win32com.client.Dispatch(prog_id)
        self._connected = False
        if connect:
            self.connect()

    def connect(self) -> None:
        """Open the connection (``Connect()``); raises ``OSError`` when PrairieView refuses."""
        if not self._client.Connect():
            raise OSError("PrairieView refused the PrairieLink connection (is it running?)")
        self._connected = True

    def disconnect(self) -> None:
        """Close the connection."""
        if self._connected:
            self._client.Disconnect()
            self._connected = False

    @property
    def connected(self) -> bool:
        """Whether the connection is open."""
        return self._connected

    def send_script_commands(self, command: str) -> bool:
        """Send one PrairieView script command line (e.g. ``"-SetState framePeriod 0.033"``)."""
        if not self._connected:
            raise OSError("not connected to PrairieView")
        return bool(self._client.SendScriptCommands(command))

    def get_state(self, key: str, index: Any = None) -> str:
        """Value of a PrairieView state key (optionally an indexed sub-value)."""
        if not self._connected:
            raise OSError("not connected to PrairieView")
        if index is None:
            return str(self._client.GetState(key))
        return str(self._client.GetState(key, str(index)))

    def __enter__(self) -> PrairieLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()
