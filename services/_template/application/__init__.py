"""The template's ports and handlers: load, decide, append through the kit's command path."""
