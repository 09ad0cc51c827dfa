"""What a purchase order is, in and out: parsed from Luminous, mapped, its QBO body."""
