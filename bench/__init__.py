"""Benchmarks (not timed tests): `python -m bench` runs them all and writes BENCHMARKS.md.

Each benchmark module has `run(quick: bool = False) -> str` returning its BENCHMARKS.md section and can be
run alone (`python -m bench.hook_latency`), which rewrites only its own section of the file.
"""
