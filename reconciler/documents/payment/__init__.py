"""A Luminous bill payment as a QBO BillPayment: model, parse, mapping, plan, body."""
