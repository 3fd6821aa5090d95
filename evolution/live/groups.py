"""Channel-layer group names: every event goes to `events`; a design's events also to its own group."""

ALL_EVENTS = "events"


def design_group(design_id: int) -> str:
    return f"design-{design_id}"
