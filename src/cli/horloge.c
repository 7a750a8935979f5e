/* horloge CLI entry point (placeholder). */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "horloge: not yet\n");
    return 1;
}
