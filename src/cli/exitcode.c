#include "exitcode.h"

int exit_code_for(enum brock_status st)
{
    switch (st) {
    case BROCK_OK:
        return EXIT_OK;
    case BROCK_ERR_USAGE:
        return EXIT_USAGE;
    case BROCK_ERR_PARSE:
    case BROCK_ERR_TOO_LARGE:
    case BROCK_ERR_IO:
    case BROCK_ERR_NOT_FOUND:
    case BROCK_ERR_CONFIG:
        return EXIT_CONFIG;
    case BROCK_ERR_CREDENTIALS:
    case BROCK_ERR_AUTH:
        return EXIT_CREDENTIALS;
    case BROCK_ERR_AWS:
        return EXIT_SERVICE;
    case BROCK_ERR_THROTTLED:
        return EXIT_THROTTLED;
    case BROCK_ERR_NETWORK:
        return EXIT_NETWORK;
    case BROCK_ERR_INTERRUPTED:
        return EXIT_INTERRUPTED;
    case BROCK_ERR_BUDGET:
        return EXIT_BUDGET;
    case BROCK_ERR_INTERNAL:
    case BROCK_STATUS_COUNT:
        break;
    }
    return EXIT_INTERNAL;
}

const char exit_codes_help[] =
    "Exit status:\n"
    "  0    success\n"
    "  1    internal error\n"
    "  2    usage error (unknown option, missing or bad argument)\n"
    "  3    bad input or configuration (malformed or unreadable file, bad setting)\n"
    "  4    credentials or authorization (none found, expired, access denied)\n"
    "  5    AWS service error\n"
    "  6    throttled after all retries\n"
    "  7    network error (DNS, connect, TLS, timeout)\n"
    "  8    budget: a spend limit was reached (brock usage; --ignore-budget overrides)\n"
    "  130  interrupted\n";
