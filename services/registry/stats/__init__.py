"""Program statistics and the public transparency report."""
