"""Kura pipeline stages."""
