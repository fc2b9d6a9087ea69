"""Tests that need a real SLURM cluster (``make test-cluster``; a package, so its conftest is not
taken for tests/conftest.py)."""
