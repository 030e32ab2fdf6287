"""The target schema: versioned SQL steps applied once each, plus helper functions."""
