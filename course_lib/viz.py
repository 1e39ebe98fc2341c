"""Figures shared by several lessons. matplotlib is imported inside each function."""
