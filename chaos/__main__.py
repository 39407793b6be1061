"""``python -m chaos``: run the fault harness and print its report."""

from chaos.cli import main

if __name__ == "__main__":
    main()
