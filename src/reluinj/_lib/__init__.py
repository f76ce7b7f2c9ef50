"""Private shared core of reluinj: validation and the dtype policy, thread counts,
configuration report, exceptions and shared constants.

It imports nothing else of reluinj except the compiled modules; every subpackage may use it.
"""
