"""Finding and validating the signed-in user's access token (docs/architecture.md, "Platform facts")."""
