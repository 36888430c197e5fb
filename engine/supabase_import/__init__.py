"""`scouts import-supabase`: bring an installation of the Supabase version over."""

from engine.supabase_import.importer import ImportReport, import_supabase

__all__ = ["ImportReport", "import_supabase"]
