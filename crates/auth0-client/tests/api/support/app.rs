//! Spawns the app (and a devtenant) on port 0 for a test.
