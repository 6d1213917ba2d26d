"""Hotspot: M-Pesa payments to MikroTik access, and the captive portal."""
