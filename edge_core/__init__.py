"""CORE agent for the owner's box (built in the panic-path issue); imports proto/ and itself only."""
