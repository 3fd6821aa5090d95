"""Framework-free verification core: the GAU protocol, seeds, checker and trainer (torch only)."""
