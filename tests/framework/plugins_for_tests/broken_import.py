"""A plugin whose import raises something other than ModuleNotFoundError."""
raise RuntimeError("broken_import cannot start: missing API credentials")
