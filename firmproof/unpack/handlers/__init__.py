"""unblob handlers of our own, for containers unblob does not know: each is named by its
format's entry in firmproof.unpack.formats, which loads it when an image is searched."""
