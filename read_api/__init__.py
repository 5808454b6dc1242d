"""read_api package."""
