"""`rnnkit generate RUN --out song.mid`: new music from a trained music run.

    rnnkit generate runs/bach --bars 8 --seed 1 --out song.mid            a fresh piece
    rnnkit generate runs/bach --prime chorale.mxl --steps 64 --out a.mid  continue an opening
    rnnkit generate runs/bach --primer-pitches 60,64,67 --out c.mid       start from a C major chord
    rnnkit generate runs/bach --out song.mid --wav                        also song.wav
    rnnkit generate runs/folk --out tune.mid --abc                        also tune.abc (text)

Beside song.mid it writes song.png, the piano-roll of what was generated; with --wav, song.wav
rendered by FluidSynth with a General MIDI soundfont.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

from rnnkit.cli.outputs import check_file
from rnnkit.devices import add_device_argument
from rnnkit.errors import RnnkitError
from rnnkit.files import write_file, write_with
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.tasks.registry import load_run
from rnnkit.train.task import GeneratesMusic, require
from rnnkit.values import COUNT, NON_NEGATIVE, POSITIVE, POSITIVE_INT, path

# Where Debian/Ubuntu, Fedora and Arch put a General MIDI soundfont; $RNNKIT_SOUNDFONT first.
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)
DEFAULT_BARS = 8  # 4/4 bars
MOST_BARS = 1000  # half an hour at 120 bpm, seconds to generate; 100,000 bars took hours
# Quarter notes per minute a MIDI file holds well: it stores 60e6 / tempo microseconds a quarter
# note in 24 bits (so at least 3.58), and past 1,000 a note lasts under a frame of a track.
TEMPOS = (4, 1000)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "generate",
        help="generate music (MIDI and a piano-roll PNG) from a trained music run",
        description="Sample a piece from the best weights of a `rnnkit train music` run and write "
        "it as MIDI, with its piano-roll as a PNG beside it (and a WAV with --wav).",
    )
    parser.add_argument("run_dir", metavar="RUN", help="the run folder (rnnkit train music --out)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=POSITIVE_INT.parse, help="grid steps to generate")
    length.add_argument(
        "--bars", type=POSITIVE_INT.parse, help=f"4/4 bars to generate (default {DEFAULT_BARS})"
    )
    parser.add_argument(
        "--temperature",
        type=NON_NEGATIVE.parse,
        default=1.0,
        help="< 1 safer, > 1 wilder; 0 the likeliest (default 1)",
    )
    parser.add_argument(
        "--seed", type=COUNT.parse, default=None, help="the same seed gives the same piece"
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--prime",
        metavar="PIECE",
        type=path,
        help="a MIDI / MusicXML / ABC file whose opening is continued (its first piece)",
    )
    start.add_argument(
        "--primer-pitches",
        metavar="P,P,...",
        help="MIDI note numbers to start from, e.g. 60,64,67: a chord held for a quarter note "
        "(music runs), or the tune's first notes, a quarter note each (melody runs)",
    )
    parser.add_argument(
        "--prime-bars",
        type=POSITIVE_INT.parse,
        default=4,
        help="how much of the prime to keep, in 4/4 bars (default 4)",
    )
    parser.add_argument(
        "--tempo",
        type=POSITIVE.parse,
        default=100.0,
        help=f"quarter notes per minute, {TEMPOS[0]} to {TEMPOS[1]} (default 100)",
    )
    parser.add_argument(
        "--out", type=path, required=True, metavar="SONG.mid", help="the MIDI file to write"
    )
    parser.add_argument("--wav", action="store_true", help="also render SONG.wav with FluidSynth")
    parser.add_argument(
        "--abc", action="store_true", help="also write SONG.abc, the top line as ABC notation text"
    )
    parser.add_argument("--force", action="store_true", help="replace files that exist")
    add_device_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from rnnkit.data.music import (
        plot_piano_roll,
        read_music_file,
        steps_per_quarter,
        to_abc,
        write_midi,
    )
    from rnnkit.data.music.primer import parse_pitches
    from rnnkit.generate.music import bar_steps

    if not TEMPOS[0] <= args.tempo <= TEMPOS[1]:
        raise RnnkitError(
            f"--tempo {args.tempo:g} is outside what a MIDI file holds well; give "
            f"{TEMPOS[0]} to {TEMPOS[1]} quarter notes per minute"
        )
    outputs = _outputs(args.out, args.wav, args.abc, args.force)
    pitches = None if args.primer_pitches is None else parse_pitches(args.primer_pitches)
    soundfont = _soundfont() if args.wav else None
    task = load_run(args.run_dir, args.device)
    require(task, GeneratesMusic, args.run_dir)
    bar = bar_steps(task.grid)
    steps = args.steps if args.steps is not None else (args.bars or DEFAULT_BARS) * bar
    if steps > MOST_BARS * bar:
        flag = "--steps" if args.steps is not None else "--bars"
        raise RnnkitError(
            f"{flag} asks for {steps / bar:g} bars; one piece is at most {MOST_BARS} bars "
            f"({MOST_BARS * bar} steps of this run's grid): generate several pieces (--seed) "
            "for more"
        )
    prime = None
    if args.prime is not None:
        prime = read_music_file(args.prime, task.grid)[0].head(args.prime_bars * bar)
    elif pitches is not None:
        prime = task.primer(pitches)
    sampler = Sampler(SamplerConfig(temperature=args.temperature, seed=args.seed))
    piece = task.generate(steps, sampler, prime)
    if not piece.notes:
        raise RnnkitError(
            "the model wrote only silence; try another --seed or a higher --temperature"
        )
    write_midi(piece, outputs["mid"], tempo_bpm=args.tempo)
    plot_piano_roll(piece, outputs["png"], title=f"generated by {args.run_dir}")
    spq = steps_per_quarter(task.grid)
    print(
        f"{len(piece.notes)} note{'s' * (len(piece.notes) != 1)}, {piece.length / spq:g} "
        "quarter notes: "
        f"{outputs['mid']}, piano-roll {outputs['png']}"
    )
    if "abc" in outputs:
        write_file(outputs["abc"], to_abc(piece, title=f"generated by {args.run_dir}") + "\n")
        print(f"ABC: {outputs['abc']}")
    if soundfont is not None:
        _render_wav(outputs["mid"], outputs["wav"], soundfont)
        print(f"audio: {outputs['wav']}")
    return 0


def _outputs(out: Path, wav: bool, abc: bool, force: bool) -> dict[str, Path]:
    """SONG.mid, SONG.png, and SONG.wav and SONG.abc when asked, checked before any work."""
    outputs = {"mid": check_file(out, force, suffixes=(".mid", ".midi"))}
    outputs["png"] = check_file(out.with_suffix(".png"), force)
    for suffix, wanted in (("wav", wav), ("abc", abc)):
        if wanted:
            outputs[suffix] = check_file(out.with_suffix(f".{suffix}"), force)
    return outputs


def _soundfont() -> Path:
    """The soundfont for --wav; an error when FluidSynth or a soundfont is not installed."""
    if shutil.which("fluidsynth") is None:
        raise RnnkitError(
            "--wav needs FluidSynth, which is not installed (e.g. `apt install fluidsynth "
            "fluid-soundfont-gm`); leave out --wav to write MIDI only"
        )
    candidates = [os.environ.get("RNNKIT_SOUNDFONT", ""), *SOUNDFONTS]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RnnkitError(
        "--wav needs a General MIDI soundfont (.sf2) and none is installed; install one (e.g. "
        "fluid-soundfont-gm) or set RNNKIT_SOUNDFONT to its path"
    )


def _render_wav(midi: Path, wav: Path, soundfont: Path) -> None:
    """Render `midi` to `wav` with FluidSynth (no audio device: -n no MIDI input, -i no shell)."""

    def render(temp: Path) -> None:
        command = ["fluidsynth", "-ni", "-F", str(temp), "-r", "44100", str(soundfont), str(midi)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not temp.is_file():
            raise RnnkitError(f"FluidSynth could not render {midi}: {result.stderr.strip()[:200]}")

    write_with(wav, render)
