"""``python -m linkwise`` runs the command line."""

from .cli import entry

entry()
