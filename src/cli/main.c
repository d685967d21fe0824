#include <stdio.h>
int main(void) { puts("brock " BROCK_VERSION); return 0; }
