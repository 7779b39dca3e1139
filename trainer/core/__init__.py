"""Core: facts every other package shares (codecs, the 14 model inputs, the gate, atomic writes, display, seeds).

Imports nothing from the other packages.
"""
