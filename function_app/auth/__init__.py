"""Finding and validating the signed-in user's access token (DESIGN.md section 2)."""
