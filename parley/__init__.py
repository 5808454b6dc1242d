"""parley package."""
