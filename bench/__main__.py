"""``python -m bench``: run hookline's benchmarks and print their table (bench/cli.py)."""

from bench.cli import main

if __name__ == "__main__":
    main()
