"""The dry run's pieces: QBO writes answered locally (`qbo`), the listing (`plan`, `view`)."""
