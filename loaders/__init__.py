"""Per-request dataloaders: batch functions over the store, one container per request."""
