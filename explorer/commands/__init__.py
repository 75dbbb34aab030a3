"""What menus and buttons do: actions, run commands and dialogs."""
