"""Test doubles that speak real protocols on loopback (shared by tests and bench/)."""
