"""The screen: the cheap first rung (synthetic capability probes + a short language-model run)."""
