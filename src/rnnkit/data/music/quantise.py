"""Quantisation: notes timed in quarter notes -> a `Piece` on a grid.

A note sounds at grid step t if it sounds at time t / s quarter notes (s steps per quarter note),
that is, the grid samples what sounds at each step (how JSB Chorales were made):

    start step = ceil(start * s)        end step = ceil(end * s)        (times in quarter notes)

A note that sounds at no grid point (shorter than a step, between two steps) is left out. Two
notes of the same pitch that overlap (a unison of two voices, or two tracks) become one note that
starts at the first onset and lasts until the later end, except that a later onset strikes the
pitch again: the first note ends there and the second note lasts until the later of both ends.
Score readers (music21, MIDI) hand their notes here, so every source is quantised the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

from rnnkit.data.music.piece import Note, Piece

# A note or a bar boundary from a reader: time in quarter notes, exact.
Time = Fraction


def to_step(time: Time, steps_per_quarter: int) -> int:
    """The first grid step at or after `time` (quarter notes): ceil(time * s)."""
    return math.ceil(Fraction(time) * steps_per_quarter)


def quantise(
    name: str,
    notes: Iterable[tuple[int, Time, Time]],
    steps_per_quarter: int,
    end: Time,
    bar_starts: Iterable[Time] = (),
) -> Piece:
    """A `Piece` from (pitch, start, end) notes and bar starts timed in quarter notes.

    `end` is where the piece ends (at least the last note's end is used).
    """
    by_pitch: dict[int, list[tuple[int, int]]] = {}
    for pitch, start, stop in notes:
        first, last = to_step(start, steps_per_quarter), to_step(stop, steps_per_quarter)
        if last > first:
            by_pitch.setdefault(pitch, []).append((first, last))
    merged = [
        Note(start, pitch, stop - start)
        for pitch, spans in by_pitch.items()
        for start, stop in _merge_same_pitch(spans)
    ]
    length = max([to_step(end, steps_per_quarter), *(note.end for note in merged)])
    bars = {to_step(bar, steps_per_quarter) for bar in bar_starts}
    return Piece(
        name, tuple(merged), steps_per_quarter, length, tuple(sorted(b for b in bars if b < length))
    )


def _merge_same_pitch(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) step spans of one pitch; see the module docstring."""
    result: list[tuple[int, int]] = []
    for start, stop in sorted(spans):
        if result and start < result[-1][1]:
            previous_start, previous_stop = result[-1]
            if start == previous_start:
                result[-1] = (start, max(stop, previous_stop))
                continue
            result[-1] = (previous_start, start)
            stop = max(stop, previous_stop)
        result.append((start, stop))
    return result


def bar_starts_from_meters(meters: Iterable[tuple[Time, Time]], end: Time) -> list[Time]:
    """Bar starts up to `end` from (time, bar length) meter changes, in quarter notes.

    Before the first meter change the bar is 4/4 (four quarter notes), as in MIDI and music21.
    """
    changes = sorted(meters)
    if not changes or changes[0][0] > 0:
        changes.insert(0, (Fraction(0), Fraction(4)))
    starts: list[Time] = []
    for index, (time, bar) in enumerate(changes):
        stop = changes[index + 1][0] if index + 1 < len(changes) else end
        while time < stop:
            starts.append(time)
            time += bar
    return starts
