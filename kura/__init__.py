"""Kura (蔵): secure intake and OCR for national-pension paperwork."""
