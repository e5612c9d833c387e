"""Data: files -> tensors. text.py (characters and words), and one module per other kind of data."""
