"""Server-rendered pages. Each view reads through selectors and writes through services."""
