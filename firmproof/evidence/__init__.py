"""Reports checked, signed and compared: verify, sign, diff."""
