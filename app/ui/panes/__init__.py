"""The seven panes of the studio, one file each."""
