"""``python -m bbre_async`` runs the command line."""

from bbre_async.cli import main

main()
