"""``python -m promptvault`` runs the CLI."""

from promptvault.cli import main

if __name__ == "__main__":
    main()
