"""firmproof: find the covert ways into a device from its firmware image, with evidence."""

__version__ = "0.1.0"
