"""Task heads on top of the recurrent layers, one module per task (language.py: LanguageModel)."""
