"""Kura web."""
