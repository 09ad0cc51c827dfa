"""A Luminous vendor credit as a QBO VendorCredit: model, parse, mapping, plan, body."""
