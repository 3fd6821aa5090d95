"""Every read of the evolution app goes through a function here (views and API views only call them)."""
