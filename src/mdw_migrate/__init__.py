"""mdw-migrate: moves the legacy MDW database onto the Supabase schema."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One version number: pyproject.toml's, as the installed package reports it.
    __version__ = version("mdw-migrate")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
