"""Send the benchmark model's queries to the `bench` database alias (the target)."""


class BenchRouter:
    def db_for_read(self, model, **hints):
        return "bench" if model._meta.app_label == "data_admin" else None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, **hints):
        return False if app_label == "data_admin" or db == "bench" else None
