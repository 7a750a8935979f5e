/* horloged entry point (placeholder until the daemon lands). */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "horloged: not yet\n");
    return 1;
}
