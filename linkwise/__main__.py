"""``python -m linkwise`` runs the command line."""

from .cli import main

main()
