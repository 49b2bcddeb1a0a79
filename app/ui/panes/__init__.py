"""The eight panes of the studio, one file each."""
