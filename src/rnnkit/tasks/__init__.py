"""The tasks: each one module with one rnnkit.train.task.Task subclass, listed in registry.py.

text.py       character- and word-level language models
music.py      the polyphonic piano-roll model       (pieces.py: what the music tasks share)
melody.py     melodies as event tokens, with the text task's language model
classify.py   time-series classification
api.py        the Python classes: TextModel, MusicModel, SeriesClassifier
"""
