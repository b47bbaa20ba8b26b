"""A small synthetic session with stimulus responders, shared by the analyze/report tests."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def demo_session(tmp_path_factory):
    """(written session, truth, label-image path): 12 neurons, 20 s, 10 stimulus pulses."""
    import tifffile

    from CalSciPy.cli.demo import make_session

    root = tmp_path_factory.mktemp("analyze")
    written, truth = make_session(root, neurons=12, seconds=20.0, frame_rate=30.0, seed=5,
                                  progress=False)
    labels = root / "labels.tif"
    # label value = ROI id + 1 (0 is background in a label image)
    tifffile.imwrite(labels, (truth["movie"].rois.label_image() + 1).astype(np.uint16))
    return written, truth, labels
