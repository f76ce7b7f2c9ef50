"""Command line (``reluinj ...``) and demo. They call the public library; the library never
imports them."""
