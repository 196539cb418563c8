"""`kura bench`: how many fields Kura reads right, how many wrong ones it lets through
unflagged, and how fast it goes compared with the OCR engine alone (docs/benchmarks.md)."""
