"""A melody as ABC notation text, to read a generated tune without a MIDI player.

    X:1
    T:generated
    M:4/4                 the meter: the most common bar length, in grid steps over the unit
    L:1/8                 the unit length is one grid step (quarter grid: 1/4, 16th grid: 1/16)
    K:C
    G2 AB c2 ^c d | e4 z4 |

Notes are spelled with sharps (no key signature: K:C), so `^F` is F sharp; an accidental holds to
the end of its bar as ABC reads it, so a later plain F in that bar is written `=F`. Octaves as ABC
writes them: C is middle C (MIDI 60), c the octave above, c' the next, C, the octave below. A
number after a note or rest `z` is its length in grid steps (none for one step). Bar lines stand
where the piece has bars; the piece's top line is written (rnnkit.data.music.events.melody).
"""

from __future__ import annotations

from collections import Counter

from rnnkit.data.music.events import melody
from rnnkit.data.music.piece import Piece

MIDDLE_C = 60
LETTERS = ("C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B")


def to_abc(piece: Piece, title: str = "generated") -> str:
    """The top line of `piece` as an ABC tune (see the module docstring)."""
    line = melody(piece)
    header = [
        "X:1",
        f"T:{title}",
        f"M:{_meter(line)}",
        f"L:1/{4 * line.steps_per_quarter}",
        "K:C",
    ]
    return "\n".join([*header, _body(line)])


def _meter(line: Piece) -> str:
    """The most common bar length as a meter: 4/4 for four quarter notes, else steps over the
    unit (6/8 on the 8th grid: a jig, or a waltz); none without two bar lines."""
    lengths = Counter(b - a for a, b in zip(line.bar_starts, line.bar_starts[1:]))
    if not lengths:
        return "none"
    steps = lengths.most_common(1)[0][0]
    quarter = line.steps_per_quarter
    return "4/4" if steps == 4 * quarter else f"{steps}/{4 * quarter}"


def _body(line: Piece) -> str:
    """Notes, rests and bar lines of a one-note-at-a-time piece; a note across a bar line is
    written as two notes tied with `-`."""
    tokens: list[str] = []
    sharpened: set[int] = set()  # pitches (natural letter + octave) sharpened earlier in the bar
    starts = {note.start: note for note in line.notes}
    bars = set(line.bar_starts) - {0}
    step, carried = 0, None  # carried: the note tied over the bar line at `step`
    while step < line.length:
        if step in bars:
            tokens.append("|")
            sharpened.clear()
        next_bar = min([bar for bar in bars if bar > step], default=line.length)
        note = carried or starts.get(step)
        if note is None:  # a rest, up to the next note or bar line
            end = min([start for start in starts if start > step] + [next_bar])
            tokens.append("z" + _length(end - step))
            step, carried = end, None
            continue
        end = min(note.end, next_bar)
        tie = "-" if end < note.end else ""
        tokens.append(_spell(note.pitch, sharpened) + _length(end - step) + tie)
        step, carried = end, (note if tie else None)
    return " ".join(tokens) + " |"


def _spell(pitch: int, sharpened: set[int]) -> str:
    """A pitch in ABC: its letter with ^ (sharp) or = (natural after a sharp) and its octave."""
    name = LETTERS[pitch % 12]
    natural = pitch - 1 if name.startswith("^") else pitch  # the letter's natural pitch
    if name.startswith("^"):
        sharpened.add(natural)
    elif natural in sharpened:
        name = "=" + name
        sharpened.discard(natural)
    octave = (pitch - MIDDLE_C) // 12  # 0: C..B from middle C
    if octave >= 1:
        return name[:-1] + name[-1].lower() + "'" * (octave - 1)
    return name + "," * -octave


def _length(steps: int) -> str:
    return "" if steps == 1 else str(steps)
