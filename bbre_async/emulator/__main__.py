"""``python -m bbre_async.emulator``: the same as ``bbre-async emulator``."""

from bbre_async.emulator._command import emulator_command

if __name__ == "__main__":
    emulator_command(prog_name="python -m bbre_async.emulator")
