"""Faces: the ``juesuan`` command line, one thin module per command group; may import every layer below."""

from .main import cli, main

__all__ = ["cli", "main"]
