"""One module per pipeline gate; each runs its tool and writes a gate record."""
