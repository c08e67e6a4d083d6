"""The PySide6 desktop window. Qt lives here and only here."""
