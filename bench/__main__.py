"""``python -m bench``: run the outbound delivery benchmark and print its table."""

from bench.cli import main

if __name__ == "__main__":
    main()
