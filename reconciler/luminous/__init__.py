"""The Luminous adapter: the HTTP client (`client`, `http`, `keyed`, `documents`), the names of
the fields the sync reads (`fields`) and how each field is read (`values`)."""
