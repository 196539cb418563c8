"""Kura schemas."""
