"""One pass: read each source, decide each document, hand writes on, record every outcome."""
