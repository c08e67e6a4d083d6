"""Files: atomic writes, capped reads and the processes that own temp files."""
