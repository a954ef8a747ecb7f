//! skynet.db.mysql against a real mariadbd.
