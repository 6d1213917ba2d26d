"""Vouchers: printed codes an agent sells over the counter, redeemed at the captive portal."""
