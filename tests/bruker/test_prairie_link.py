"""``CalSciPy.bruker.prairie_link``: importable everywhere, clear errors, the COM calls it makes
(checked against a stand-in COM server, since PrairieView runs only on Windows)."""
from __future__ import annotations

import sys
import types

import pytest

from CalSciPy.bruker import prairie_link
from CalSciPy.bruker.configuration_values import COM_PROG_ID


class FakeServer:
    """Records the calls a PrairieLink.Application COM object receives."""

    def __init__(self, accept: bool = True):
        self.accept = accept
        self.calls: list[tuple] = []

    def Connect(self):
        self.calls.append(("Connect",))
        return self.accept

    def Disconnect(self):
        self.calls.append(("Disconnect",))

    def SendScriptCommands(self, command):
        self.calls.append(("SendScriptCommands", command))
        return 1

    def GetState(self, key, index=None):
        self.calls.append(("GetState", key) if index is None else ("GetState", key, index))
        return 0.033 if index is None else 7


@pytest.fixture
def fake_windows(monkeypatch):
    """sys.platform 'win32' and a win32com.client whose Dispatch returns a FakeServer."""
    created: dict[str, FakeServer] = {}
    server = FakeServer()

    def dispatch(prog_id):
        created[prog_id] = server
        return server

    client = types.ModuleType("win32com.client")
    client.Dispatch = dispatch
    package = types.ModuleType("win32com")
    package.client = client
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "win32com", package)
    monkeypatch.setitem(sys.modules, "win32com.client", client)
    return server, created


@pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows refusal")
def test_outside_windows_it_imports_and_refuses_with_the_reason():
    assert not prairie_link.is_available()
    with pytest.raises(OSError, match="needs Windows"):
        prairie_link.PrairieLink()


def test_without_pywin32_the_error_names_the_package(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "win32com", None)
    monkeypatch.setitem(sys.modules, "win32com.client", None)
    assert not prairie_link.is_available()
    with pytest.raises(OSError, match="pywin32"):
        prairie_link.PrairieLink()


def test_session_sends_commands_reads_state_and_disconnects(fake_windows):
    server, created = fake_windows
    assert prairie_link.is_available()
    with prairie_link.PrairieLink() as link:
        assert link.connected
        assert link.send_script_commands("-SetState framePeriod 0.033") is True
        assert link.get_state("framePeriod") == "0.033"
        assert link.get_state("positionCurrent", index="XAxis") == "7"
    assert not link.connected
    assert list(created) == [COM_PROG_ID]
    assert server.calls == [
        ("Connect",),
        ("SendScriptCommands", "-SetState framePeriod 0.033"),
        ("GetState", "framePeriod"),
        ("GetState", "positionCurrent", "XAxis"),
        ("Disconnect",),
    ]


def test_refused_connection_and_calls_while_disconnected(fake_windows):
    server, _ = fake_windows
    server.accept = False
    with pytest.raises(OSError, match="refused"):
        prairie_link.PrairieLink()
    link = prairie_link.PrairieLink(connect=False)
    with pytest.raises(OSError, match="not connected"):
        link.send_script_commands("-Abort")
    with pytest.raises(OSError, match="not connected"):
        link.get_state("framePeriod")
    link.disconnect()  # a no-op when never connected
    assert ("Disconnect",) not in server.calls
