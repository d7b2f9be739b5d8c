"""Sessions (per-stream state), the engine (shared models), the response worker, typed events."""
