"""Every Luminous field name the sync reads, in one place: a correction is one edit.

Confirmed by Luminous's API reference and its official CLI (LuminousInventory/luminous-cli,
cli/resources/purchase_orders.py, bills.py, receiving_reports.py, _input.py) unless marked
"assumed" (the public reference is silent; the project's Luminous notes list why each is
believed). The parsers (`documents.po.parse`, `documents.bill.parse`) read records only
through these tables.
"""

PO_FIELDS = {
    "id": "id",
    "order_numbers": "order_numbers",
    "status": "order_status",
    "approval": "approval_status",  # assumed
    "supplier": "supplier",
    "items": "items",
    "warehouse": "warehouse",  # assumed: embedded, or fetched by warehouse_id
    "warehouse_id": "warehouse_id",  # assumed (the PO list's documented filter names it)
    "created_at": "created_at",
    "updated_at": "updated_at",
    "order_date": "order_date",
    "arrival_due_date": "arrival_due_date",
    "currency": "currency",  # assumed
    "shipping": "total_shipping_cost",
    "tax": "total_tax",
    "public_note": "public_note",
    "private_note": "private_note",
    "custom_fields": "custom_fields",  # assumed
}
SUPPLIER_FIELDS = {
    "id": "id",
    "name": "name",
    "email": "contact_email",
    "phone": "contact_phone",
    "contact_name": "contact_name",
    "currency": "currency",  # assumed
    "account_number": "account_number",  # assumed
}
ADDRESS_FIELDS = {  # suppliers and warehouses alike
    "line1": "street_address",
    "line2": "street_address_2",  # assumed
    "city": "city",
    "region": "state",
    "postal_code": "zip",
    "country": "country",
}
ITEM_FIELDS = {
    "id": "id",
    "product": "product",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "description": "description",  # assumed (not in the reference; product.description is)
    "tax": "tax",
    "tax_rate": "tax_rate",  # assumed
    "discount_amount": "discount_amount",
    "line_total": "line_total",
    "source_sku": "source_sku",
}
PRODUCT_FIELDS = {
    "id": "id",
    "name": "name",
    "sku": "sku",
    "description": "description",
    "unit_cost": "unit_cost",
    "tax_class": "tax_class",  # assumed
    "category": "category",  # {id, name}, on the reference's product
    "subcategory": "subcategory",
    "variant_attributes": "variant_attributes",
    "custom_fields": "custom_fields",
}

# --- bills and receiving reports -------------------------------------------------------

BILL_FIELDS = {
    "id": "id",
    "number": "bill_number",  # assumed
    "status": "status",
    "vendor_id": "vendor_id",
    "vendor_name": "vendor_name",
    "bill_date": "bill_date",
    "due_date": "due_date",
    "currency": "currency",  # assumed
    "memo": "memo",  # assumed
    "items": "items",  # assumed
    "extra_costs": "extra_costs",
    "allocations": "allocations",  # from GET /bills/{id}/allocations, attached by the client
    "purchase_order_ids": "purchase_order_ids",  # assumed
    "updated_at": "updated_at",  # assumed
    "payments": "payments",  # embedded (the CLI's _input.py lists it among a record's arrays)
    "total_paid": "total_paid",
    "total_due": "total_due",
}
BILL_ITEM_FIELDS = {
    "id": "id",
    "po_id": "purchase_order_id",
    "po_line_id": "purchase_order_item_id",
    "product": "product",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "tax": "tax",
    "amount": "amount",
}
EXTRA_COST_FIELDS = {
    "id": "id",
    "name": "name",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "line_total": "line_total",  # assumed
}
ALLOCATION_FIELDS = {
    "bill_item_id": "bill_item_id",
    "po_id": "purchase_order_id",
    "po_line_id": "purchase_order_item_id",
    "quantity": "quantity",
}
RECEIPT_FIELDS = {
    "id": "id",
    "po_id": "purchase_order_id",
    "status": "status",
    "received_date": "received_date",
    "items": "items",
    "purchase_orders": "purchase_orders",
    "updated_at": "updated_at",
}
RECEIPT_ITEM_FIELDS = {
    "id": "id",
    "po_id": "purchase_order_id",
    "po_line_id": "purchase_order_item_id",
    "received_quantity": "received_quantity",
    "quantity": "quantity",
}

# --- bill payments and vendor credits ---------------------------------------------------
# Confirmed by the CLI: `POST /bills/{id}/payments`, `DELETE /bills/{id}/payments/{payment_id}`,
# `POST /bills/{id}/payments/{payment_id}/void` (bills.py); a payment's `payment_date`,
# `payment_type` (cash, credit_card, debit_card, check, bank_transfer), `paid_amount`, `remarks`
# (purchase_orders.py, the PO payments' create); `/vendor-credits` with the columns `id`,
# `vendor_name`, `amount`, `status`, `created_at` and the actions apply, cancel and
# `/applications/{application_id}/reverse` (vendor_credits.py).

PAYMENT_FIELDS = {
    "id": "id",
    "bill_id": "bill_id",  # assumed (the reader adds it from the bill when absent)
    "payment_date": "payment_date",
    "payment_type": "payment_type",
    "paid_amount": "paid_amount",
    "remarks": "remarks",
    "reference": "reference_number",  # assumed: a check or transfer number, if any
    "status": "status",  # assumed: "completed" (or absent) | "void"
    "bill": "bill",  # the payment's bill as the reader attaches it (id, vendor, stamp)
}
PAYMENTS_PATH = "payments"  # assumed: GET /bills/{id}/payments when a bill row embeds none
VENDOR_CREDIT_FIELDS = {
    "id": "id",
    "number": "credit_number",  # assumed
    "status": "status",
    "vendor_id": "vendor_id",  # assumed
    "vendor_name": "vendor_name",
    "amount": "amount",
    "credit_date": "credit_date",  # assumed
    "currency": "currency",  # assumed
    "memo": "memo",  # assumed
    "items": "items",  # assumed: lines as on a bill
    "applications": "applications",  # assumed: embedded
    "vendor_return_id": "vendor_return_id",  # assumed
    "created_at": "created_at",
    "updated_at": "updated_at",  # assumed
}
CREDIT_ITEM_FIELDS = BILL_ITEM_FIELDS  # assumed: a credit's lines read like a bill's items
CREDIT_APPLICATION_FIELDS = {
    "id": "id",
    "bill_id": "bill_id",  # assumed; an application to a payment obligation names none
    "amount": "amount",  # assumed
    "status": "status",  # assumed: "applied" | "reversed"
}
