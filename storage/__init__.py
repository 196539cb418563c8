"""Kura storage."""
