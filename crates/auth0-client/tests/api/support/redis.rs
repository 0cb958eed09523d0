//! Spawns real redis-server processes (standalone, sentinel, cluster) on free ports.
