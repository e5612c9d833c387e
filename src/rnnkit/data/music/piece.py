"""A piece of music on a time grid: the one representation every other music module shares.

Time is counted in grid steps. The grid is a fixed fraction of a quarter note:

    grid      steps per quarter note    one step is
    quarter   1                         a quarter note (JSB Chorales' resolution)
    8th       2                         an eighth note
    16th      4                         a sixteenth note

A `Piece` is a list of notes (pitch, start step, duration in steps), the step at which each bar
starts (empty when the source has no meter, e.g. JSB JSON), and the length in steps. Notes of the
same pitch never overlap (`Piece.__post_init__` checks it), so a note list maps one-to-one to MIDI
note-on / note-off pairs; re-struck notes stay two notes, which a piano-roll cannot tell apart.
`to_dict` / `from_dict` turn a piece into a JSON-ready dict and back: what the parse cache stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rnnkit.errors import RnnkitError

# Grid name -> steps per quarter note.
GRIDS: dict[str, int] = {"quarter": 1, "8th": 2, "16th": 4}


def steps_per_quarter(grid: str) -> int:
    """Steps per quarter note of a grid name ("quarter", "8th" or "16th")."""
    if grid not in GRIDS:
        raise RnnkitError(f"unknown grid {grid!r}; choose one of {', '.join(GRIDS)}")
    return GRIDS[grid]


def grid_name(steps: int) -> str:
    """The grid name for a number of steps per quarter note (the inverse of `steps_per_quarter`)."""
    for name, value in GRIDS.items():
        if value == steps:
            return name
    raise RnnkitError(f"{steps} steps per quarter note is not a grid; use 1, 2 or 4")


@dataclass(frozen=True, order=True)
class Note:
    """One note: sorted by start, then pitch."""

    start: int  # first grid step the note sounds
    pitch: int  # MIDI note number, 60 = middle C
    duration: int  # number of grid steps it sounds, >= 1

    @property
    def end(self) -> int:
        """The first step after the note."""
        return self.start + self.duration


@dataclass(frozen=True)
class Piece:
    """Notes on a grid of `steps_per_quarter` steps per quarter note."""

    name: str  # where it came from: a file path, `path#3` for the 3rd tune of a file, `train/12`
    notes: tuple[Note, ...]  # sorted; same-pitch notes never overlap
    steps_per_quarter: int  # the grid (see GRIDS)
    length: int  # steps from the start to the end of the piece, >= the last note's end
    bar_starts: tuple[int, ...] = field(default=())  # step of each bar line; () when unknown

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", tuple(sorted(self.notes)))
        object.__setattr__(self, "bar_starts", tuple(self.bar_starts))
        if any(note.duration < 1 or note.start < 0 for note in self.notes):
            raise RnnkitError(f"{self.name}: a note has a negative start or a duration below 1")
        if self.notes and self.length < max(note.end for note in self.notes):
            raise RnnkitError(f"{self.name}: length {self.length} ends before its last note")
        if any(not 0 <= bar < self.length for bar in self.bar_starts):
            raise RnnkitError(f"{self.name}: a bar starts outside the piece (0..{self.length - 1})")
        if list(self.bar_starts) != sorted(set(self.bar_starts)):
            raise RnnkitError(f"{self.name}: bar starts must increase; got {self.bar_starts}")
        last_end: dict[int, int] = {}
        for note in self.notes:
            if note.start < last_end.get(note.pitch, 0):
                raise RnnkitError(
                    f"{self.name}: two notes of pitch {note.pitch} overlap at step {note.start}"
                )
            last_end[note.pitch] = note.end

    @property
    def grid(self) -> str:
        """The grid name ("quarter", "8th" or "16th")."""
        return grid_name(self.steps_per_quarter)

    def transposed(self, semitones: int) -> Piece:
        """The same piece `semitones` higher (negative: lower)."""
        notes = tuple(replace(note, pitch=note.pitch + semitones) for note in self.notes)
        suffix = f"{semitones:+d}" if semitones else ""
        return replace(self, name=self.name + suffix, notes=notes)

    def head(self, steps: int) -> Piece:
        """The first `steps` steps (an opening to prime a generator); notes are cut at the end."""
        steps = max(0, min(steps, self.length))
        notes = tuple(
            replace(note, duration=min(note.end, steps) - note.start)
            for note in self.notes
            if note.start < steps
        )
        bars = tuple(bar for bar in self.bar_starts if bar < steps)
        return replace(self, notes=notes, length=steps, bar_starts=bars)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; notes as [start, pitch, duration] triples."""
        return {
            "name": self.name,
            "steps_per_quarter": self.steps_per_quarter,
            "length": self.length,
            "bar_starts": list(self.bar_starts),
            "notes": [[note.start, note.pitch, note.duration] for note in self.notes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Piece:
        """The inverse of `to_dict`."""
        return cls(
            name=data["name"],
            notes=tuple(Note(start, pitch, duration) for start, pitch, duration in data["notes"]),
            steps_per_quarter=data["steps_per_quarter"],
            length=data["length"],
            bar_starts=tuple(data["bar_starts"]),
        )
