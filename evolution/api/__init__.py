"""The evolution app's REST API (DRF)."""
