"""Kura workers."""
