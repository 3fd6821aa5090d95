"""Live updates: events streamed to browsers over websockets (Channels)."""
