"""``python -m bbre_async.emulator``: the same as ``bbre-async emulator``.

The command line needs click; a library-only install gets one line saying how to add it.
"""

import sys

try:
    from bbre_async.emulator._command import emulator_command
except ModuleNotFoundError as missing:  # pragma: no cover - depends on the install
    if missing.name != "click":
        raise
    sys.exit("python -m bbre_async.emulator needs click: pip install 'bbre-async[cli]'")

if __name__ == "__main__":
    emulator_command(prog_name="python -m bbre_async.emulator")
