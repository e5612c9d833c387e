"""Quantisation against a brute-force oracle: a key is on at step t iff a note sounds at t / k."""

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.music.pianoroll import LOWEST_PITCH, piece_to_roll
from rnnkit.data.music.quantise import bar_starts_from_meters, quantise

# Times on a 1/12-quarter lattice reach triplets, 16ths and points between grid steps.
times = st.integers(0, 96).map(lambda twelfths: Fraction(twelfths, 12))


@st.composite
def spans(draw):
    start = draw(times)
    return draw(st.integers(60, 64)), start, start + draw(times.filter(lambda d: d > 0))


@settings(max_examples=200, deadline=None)
@given(st.lists(spans(), max_size=8), st.sampled_from([1, 2, 4]))
def test_the_roll_of_a_quantised_piece_is_what_sounds_at_each_grid_point(notes, steps):
    end = max([Fraction(1), *(stop for _, _, stop in notes)])
    piece = quantise("q", notes, steps, end)
    roll = piece_to_roll(piece)
    for t in range(piece.length):
        for pitch in range(60, 65):
            sounds = any(p == pitch and a <= Fraction(t, steps) < b for p, a, b in notes)
            assert roll[t, pitch - LOWEST_PITCH] == sounds, (t, pitch)
    onsets = {(p, a) for p, a, _ in notes}
    for note in piece.notes:  # every note starts at the first grid point of a real onset
        assert any(p == note.pitch and math.ceil(a * steps) == note.start for p, a in onsets)


def test_bar_starts_follow_meter_changes():
    # 4/4 by default until a 3/4 change at quarter 8, up to quarter 15.
    meters = [(Fraction(8), Fraction(3))]
    assert bar_starts_from_meters(meters, Fraction(15)) == [0, 4, 8, 11, 14]
    assert bar_starts_from_meters([], Fraction(9)) == [0, 4, 8]
