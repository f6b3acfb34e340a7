"""Personalization: what shoppers did (events) turned into affinity for products (see contract.py)."""
