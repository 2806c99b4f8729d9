"""The "Process queue" task and the other tasks: the drain, the SyncWorker thread, retries."""
