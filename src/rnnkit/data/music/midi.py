"""MIDI in and out with mido.

Writing: one track, 480 ticks per quarter note (a whole number of ticks for every grid), the tempo
as a set_tempo message (microseconds per quarter = 60e6 / bpm), a time signature wherever the bar
length changes (a pickup bar gets its own, e.g. 1/4 before 4/4), note_off before note_on at the same
tick so a re-struck note is heard twice. The file is written whole or not at all.

Reading: every note of every track except the drum channel (MIDI channel 10), timed in quarter notes
(tick / ticks per quarter; the tempo only changes seconds, not the grid), then quantised like any
score (`quantise`); a note never switched off lasts to the end of its track. Bars come from the
time signature messages (4/4 when there are none, as the MIDI standard says).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import mido

from rnnkit.data.music.piece import Piece, steps_per_quarter
from rnnkit.data.music.quantise import bar_starts_from_meters, quantise
from rnnkit.errors import RnnkitError
from rnnkit.files import short, write_with

TICKS_PER_QUARTER = 480
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


def write_midi(
    piece: Piece,
    path: str | Path,
    tempo_bpm: float = 120.0,
    program: int = 0,
    velocity: int = 80,
) -> Path:
    """Write `piece` to a .mid file at `tempo_bpm` quarter notes per minute; returns the path.

    `program` is the General MIDI instrument (0 = acoustic grand piano).
    """
    if tempo_bpm <= 0:
        raise RnnkitError(f"tempo must be positive beats per minute; got {tempo_bpm}")
    ticks_per_step = TICKS_PER_QUARTER // piece.steps_per_quarter
    # (tick, order, message): order puts meta first, then note_off, then note_on at one tick.
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm))),
        (0, 0, mido.Message("program_change", program=program, channel=0)),
    ]
    for step, (numerator, denominator) in _time_signatures(piece):
        events.append(
            (
                step * ticks_per_step,
                0,
                mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator),
            )
        )
    for note in piece.notes:
        on = mido.Message("note_on", note=note.pitch, velocity=velocity, channel=0)
        off = mido.Message("note_off", note=note.pitch, velocity=0, channel=0)
        events.append((note.start * ticks_per_step, 2, on))
        events.append((note.end * ticks_per_step, 1, off))
    events.sort(key=lambda event: (event[0], event[1]))
    track = mido.MidiTrack()
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=piece.length * ticks_per_step - now))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(track)
    return write_with(path, midi.save)


def _time_signatures(piece: Piece) -> list[tuple[int, tuple[int, int]]]:
    """(step, (numerator, denominator)) where the bar length changes; none when bars are unknown."""
    bounds = [*piece.bar_starts, piece.length]
    changes: list[tuple[int, tuple[int, int]]] = []
    previous = None
    for start, stop in pairwise(bounds):
        signature = _signature(Fraction(stop - start, piece.steps_per_quarter))
        if signature != previous:
            changes.append((start, signature))
            previous = signature
    return changes


def _signature(quarters: Fraction) -> tuple[int, int]:
    """The simplest n/4, n/8 or n/16 time signature of a bar `quarters` quarter notes long."""
    for denominator in (4, 8, 16):
        beats = quarters * denominator / 4
        if beats.denominator == 1:
            return int(beats), denominator
    raise RnnkitError(f"a bar of {quarters} quarter notes has no time signature")


def read_midi(path: str | Path, grid: str = "quarter") -> Piece:
    """The notes of a MIDI file on `grid` ("quarter", "8th" or "16th") as a `Piece`."""
    midi = _open(Path(path))
    per_quarter = Fraction(1, midi.ticks_per_beat)
    notes: list[tuple[int, Fraction, Fraction]] = []
    meters: list[tuple[Fraction, Fraction]] = []  # (time, bar length), both in quarter notes
    end_tick, drums = 0, False
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], list[int]] = {}  # (channel, pitch) -> onset ticks
        for message in track:
            tick += message.time
            if message.type == "time_signature":
                bar = Fraction(4 * message.numerator, message.denominator)
                meters.append((tick * per_quarter, bar))
            elif message.type == "note_on" and message.channel == DRUM_CHANNEL:
                drums = True
            elif message.type in ("note_on", "note_off") and message.channel != DRUM_CHANNEL:
                key = (message.channel, message.note)
                if message.type == "note_on" and message.velocity > 0:
                    sounding.setdefault(key, []).append(tick)
                elif sounding.get(key):
                    onset = sounding[key].pop(0)  # first in, first out, as synthesizers do
                    notes.append((message.note, onset * per_quarter, tick * per_quarter))
        for (_, pitch), onsets in sounding.items():  # never switched off: they last to the end
            notes.extend((pitch, onset * per_quarter, tick * per_quarter) for onset in onsets)
        end_tick = max(end_tick, tick)
    end = end_tick * per_quarter
    bars = bar_starts_from_meters(meters, end)
    if not notes:
        what = "only drums (MIDI channel 10), which have no pitch" if drums else "no notes"
        raise RnnkitError(f"{path} has {what}; give a MIDI file with pitched notes")
    piece = quantise(str(path), notes, steps_per_quarter(grid), end, bars)
    if not piece.notes:
        raise RnnkitError(
            f"{path} has no notes on the {grid} grid; give a MIDI file with notes or a finer grid"
        )
    return piece


def _open(path: Path) -> mido.MidiFile:
    if path.is_file() and path.stat().st_size == 0:
        raise RnnkitError(f"{path} is empty; give a MIDI file with notes")
    try:
        return mido.MidiFile(path)
    except FileNotFoundError:
        raise RnnkitError(f"{path} does not exist") from None
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        reason = "it ends before its data does" if isinstance(error, EOFError) else short(error)
        raise RnnkitError(
            f"{path} is not a readable MIDI file ({reason}); check that it is a .mid file"
        ) from None
