"""Clients of outside services (M-Pesa Daraja, LiveKit)."""
