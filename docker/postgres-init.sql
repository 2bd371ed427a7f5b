-- Runs once, on the first start of the postgres container (an empty data volume):
-- POSTGRES_DB created `alpes`; the reports context has its own database.
CREATE DATABASE reportes OWNER alpes;
