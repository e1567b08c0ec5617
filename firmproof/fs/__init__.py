"""A file system as analyzers see it: views, the index of an unpacked tree, file types."""
