/* cmd_doctor.c - `brock doctor`: placeholder until the credential chain lands. */
#include <stdio.h>

#include "cli.h"
#include "exitcode.h"

int cmd_doctor(const struct cli_config *cfg)
{
    (void)cfg;
    fprintf(stderr, "brock: doctor is not built yet\n");
    return EXIT_INTERNAL;
}
