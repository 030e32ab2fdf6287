"""mdw-migrate: moves the legacy MDW database onto the Supabase schema."""

__version__ = "0.1.0"
