"""The machine firmproof runs on: external tools, `doctor`, forked children."""
