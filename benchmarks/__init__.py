"""Benchmarks of bbre_async against its emulator: ``python -m benchmarks [--quick]``."""
