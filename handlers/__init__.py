"""One function per event; each owns its transaction and commits once."""
