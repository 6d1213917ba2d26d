"""Lambda functions deployed outside the Chalice app (each folder is one function's package)."""
