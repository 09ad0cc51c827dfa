"""What a bill (or a receiving report read as one) is, in and out, and how it waits for its PO."""
