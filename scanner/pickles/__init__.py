"""The pickle engine: an opcode reader, a symbolic machine over it, and the import/call policy.

Nothing here unpickles: opcodes are decoded by our own reader and interpreted symbolically, so every
import and call a loader would make is known without making it.
"""
