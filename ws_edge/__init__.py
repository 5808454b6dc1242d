"""ws_edge package."""
