/* Placeholder until the tool component lands. */
#include <stdio.h>
int main(void) { fputs("trustapp-admin: not built yet\n", stderr); return 2; }
