"""Reading one music file into pieces: MusicXML, ABC and Humdrum through music21, MIDI through mido.

music21 parses the score (`forceSource=True`: it neither reads nor writes its pickle cache), tied
notes are joined (`stripTies`), chord symbols and grace notes are left out (they are not sounded
notes of the score), and every pitch of every part is handed to `quantise`. Bars are the measures
of the first part (or, where it has none, come from its time signatures). A file holding several
tunes (an ABC collection) gives one piece per tune, named `path#1`, `path#2`, ...
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from music21 import chord, converter, harmony, meter, note, stream

from rnnkit.data.music.midi import read_midi
from rnnkit.data.music.piece import Piece, steps_per_quarter
from rnnkit.data.music.quantise import bar_starts_from_meters, quantise
from rnnkit.errors import RnnkitError
from rnnkit.files import check_not_a_pipe

MIDI_SUFFIXES = frozenset({".mid", ".midi"})
SCORE_SUFFIXES = frozenset({".xml", ".mxl", ".musicxml", ".abc", ".krn"})
MUSIC_SUFFIXES = MIDI_SUFFIXES | SCORE_SUFFIXES


def read_music_file(path: str | Path, grid: str = "quarter") -> list[Piece]:
    """The pieces in one MIDI, MusicXML, ABC or Humdrum (.krn) file, on `grid`."""
    path = Path(path)
    check_not_a_pipe(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return [read_midi(path, grid)]
    if suffix not in SCORE_SUFFIXES:
        raise RnnkitError(
            f"{path}: unknown music file type {suffix!r}; "
            f"use one of {' '.join(sorted(MUSIC_SUFFIXES))}"
        )
    parsed = _parse(path)
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    pieces = [
        score_to_piece(score, f"{path}#{index}" if len(scores) > 1 else str(path), grid)
        for index, score in enumerate(scores, start=1)
    ]
    pieces = [piece for piece in pieces if piece.notes]
    if not pieces:
        raise RnnkitError(
            f"{path} has no notes on the {grid} grid; give a score with notes or a finer grid"
        )
    return pieces


def _parse(path: Path) -> stream.Stream:
    if not path.is_file():
        raise RnnkitError(f"{path} does not exist")
    try:
        return converter.parse(path, forceSource=True)
    # music21's parsers fail with many exception types on malformed files; each means "unreadable".
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RnnkitError(f"{path} could not be parsed ({reason}); check the file") from None


def score_to_piece(score: stream.Stream, name: str, grid: str = "quarter") -> Piece:
    """A music21 score (or part) as a `Piece` on `grid`.

    Tied notes are joined in place (`stripTies(inPlace=True)`: four times faster than on a copy),
    so `score` changes; pass `score.stripTies()` or a deep copy to keep the original.
    """
    score.stripTies(inPlace=True)
    notes: list[tuple[int, Fraction, Fraction]] = []
    for element in score.flatten().notes:
        if not _is_sounded(element):
            continue
        start = Fraction(element.offset)
        stop = start + Fraction(element.quarterLength)
        notes.extend((pitch.midi, start, stop) for pitch in element.pitches)
    end = Fraction(score.highestTime)
    return quantise(name, notes, steps_per_quarter(grid), end, _bar_starts(score, end))


def _bar_starts(score: stream.Stream, end: Fraction) -> list[Fraction]:
    """The measures of the first part; from its time signatures when it has no measures (some
    ABC tunes)."""
    first_part = score.parts[0] if isinstance(score, stream.Score) and score.parts else score
    measures = first_part.getElementsByClass(stream.Measure)
    if measures:
        return [Fraction(measure.offset) for measure in measures]
    meters = [
        (Fraction(sign.getOffsetInHierarchy(first_part)), Fraction(sign.barDuration.quarterLength))
        for sign in first_part.recurse().getElementsByClass(meter.TimeSignature)
    ]
    return bar_starts_from_meters(meters, end)


def _is_sounded(element: note.GeneralNote) -> bool:
    """A pitched note or chord of the score (not a chord symbol, not a grace note)."""
    return (
        isinstance(element, (note.Note, chord.Chord))
        and not isinstance(element, harmony.ChordSymbol)
        and not element.duration.isGrace
    )
