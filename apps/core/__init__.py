"""Foundation shared by the apps (below mlops and every app): the guarded outbound fetch."""
