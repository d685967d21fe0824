/* uuid.h - random (version 4) UUIDs, for session and request ids. */
#ifndef BROCK_UTIL_UUID_H
#define BROCK_UTIL_UUID_H

/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (36 chars + NUL) from getrandom(2). */
void uuid_v4(char out[37]);

#endif
