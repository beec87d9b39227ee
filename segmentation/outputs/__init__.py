"""What a finished run exports: profiles, descriptions, the 2-D scatter, segment ids kept
across runs, the migration between runs, and the stage that writes them all."""
