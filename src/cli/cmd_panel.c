// cmd_panel.c — placeholder, filled in below.
#include <stdio.h>
#include "commands.h"
int command_panel(int argc, char **argv) { return EXIT_USAGE; }
