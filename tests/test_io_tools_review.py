"""Review findings in the TIFF/binary writers (issue 12 follow-up).

Each test failed on the code as first delivered.
"""
from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from CalSciPy.io_tools import load_images, save_images

STACK = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(new_name=st.sampled_from(["trial_00.tif", "trial_01.tif", "trial_12.tif",
                                 "trial_100.tif", "trial_day1.tif", "trial_1.tif"]))
def test_a_renamed_earlier_save_is_the_users_file(tmp_path_factory, new_name):
    # save, keep the result under another name, save again: the kept file was deleted as a
    # stale part (names fitting <stem>_NN) or the folder was called a mixed set of parts
    folder = tmp_path_factory.mktemp("renamed")
    save_images(folder / "trial.tif", STACK, progress=False)
    os.rename(folder / "trial.tif", folder / new_name)
    save_images(folder / "trial.tif", STACK + 1, progress=False)
    assert sorted(os.listdir(folder)) == sorted(["trial.tif", new_name])
    np.testing.assert_array_equal(load_images(folder / new_name), STACK)
    np.testing.assert_array_equal(load_images(folder / "trial.tif"), STACK + 1)
    loaded = load_images(folder, progress=False)
    assert loaded.shape == (6, 4, 5)


def test_a_renamed_part_of_a_split_save_is_left_alone(tmp_path):
    frame_gb = STACK[0].nbytes / 1e9
    save_images(tmp_path / "trial.tif", STACK, size_cap=frame_gb, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["trial_00.tif", "trial_01.tif", "trial_02.tif"]
    os.rename(tmp_path / "trial_02.tif", tmp_path / "trial_07.tif")
    save_images(tmp_path / "trial.tif", STACK[:1], progress=False)
    # the two parts still at their saved names are stale and go; the renamed one stays
    assert sorted(os.listdir(tmp_path)) == ["trial.tif", "trial_07.tif"]
    np.testing.assert_array_equal(load_images(tmp_path / "trial_07.tif"), STACK[2:])
