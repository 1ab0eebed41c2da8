"""The run-length reading of a cover array shared by the generator and the checker."""

import numpy as np

from vrkit.worlds.cater.intervals import cover_intervals


def test_runs_of_one_cover_become_intervals_ending_at_their_last_frame():
    cover = np.array([[-1, 2, 2, -1, 2, 3],   # object 0: under cone 2 twice, then under cone 3
                      [-1, -1, -1, -1, -1, -1],  # object 1: never covered
                      [4, 4, 4, 4, 4, 4]])  # object 2: covered throughout
    assert cover_intervals(cover) == [(2, 0, 1, 2), (2, 0, 4, 4), (3, 0, 5, 5), (4, 2, 0, 5)]


def test_no_cover_gives_no_interval():
    assert cover_intervals(np.full((3, 5), -1)) == []
