"""The pure decisions every document kind shares, and one folder per kind (`po/`, `bill/`):
what a Luminous record becomes in QBO, and what must happen to it. No I/O, no clock."""
