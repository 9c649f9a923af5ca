"""What the front ends share: the store (SQLite or PostgreSQL) and its migrations."""
