"""Hydra configs, shipped inside the package (Hydra's installed-app pattern)."""
