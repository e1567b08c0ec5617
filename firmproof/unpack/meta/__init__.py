"""Readers of the file system's own metadata (mode, owner, link target), one module per format.

Each reader takes the carved chunk that unblob extracted and returns `FileMeta` keyed by
the path the extractor gave the entry, relative to the extraction directory.
A format's entry in `firmproof.unpack.formats` names its reader; `read_metadata` in
`firmproof.unpack.metadata` calls it.
"""
