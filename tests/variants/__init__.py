"""The variant corpus: each backdoor family written in many forms, each with decoys of the
same shape, packed into images with the real tools. `test_variants.py` runs every variant;
`bench/detection.py` measures recall and precision per family on the same corpus."""
