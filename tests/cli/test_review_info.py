"""``calscipy info`` on a master XML whose images are gone: the frame size it states is untrusted.

Before, ``linesPerFrame="nan"`` printed ``height: nan`` and ``--json`` failed with the json
library's "Out of range float values are not JSON compliant".
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from CalSciPy.cli import main
from CalSciPy.synthetic import write_prairieview_session


def _xml_only(tmp_path, lines="8", pixels="10"):
    written = write_prairieview_session(tmp_path / "s", np.zeros((3, 1, 1, 8, 10), np.uint16),
                                        voltage=False)
    for tif in written.folder.glob("*.ome.tif"):
        tif.unlink()
    text = written.xml_path.read_text(encoding="utf-8-sig")
    text = text.replace('key="linesPerFrame" value="8"', f'key="linesPerFrame" value="{lines}"')
    text = text.replace('key="pixelsPerLine" value="10"', f'key="pixelsPerLine" value="{pixels}"')
    written.xml_path.write_text(text, encoding="utf-8")
    return written


def test_stated_frame_size_is_reported_when_the_images_are_gone(tmp_path, capsys):
    written = _xml_only(tmp_path)
    assert main(["info", str(written.folder), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["height"], summary["width"], summary["images_present"]) == (8, 10, False)


@pytest.mark.parametrize("key,lines,pixels,shown", [
    ("linesPerFrame", "nan", "10", "nan"),
    ("pixelsPerLine", "8", "inf", "inf"),
    ("pixelsPerLine", "8", "-512", "-512"),
    ("linesPerFrame", "0", "10", "0"),
    ("linesPerFrame", "8.5", "10", "8.5"),
    ("pixelsPerLine", "8", "wide", "wide"),
])
@pytest.mark.parametrize("as_json", [True, False])
def test_a_bad_stated_frame_size_is_one_error_naming_the_xml(tmp_path, capsys, key, lines,
                                                             pixels, shown, as_json):
    written = _xml_only(tmp_path, lines, pixels)
    assert main(["info", str(written.folder), *(["--json"] if as_json else [])]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "s.xml" in captured.err and key in captured.err and shown in captured.err
    assert len(captured.err.strip().splitlines()) == 1
